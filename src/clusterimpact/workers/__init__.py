"""Worker subgroups: categories, joint subgroup estimation, exclusion, displacement, take-up.

"The worker" is not one person: joint-action programmes in clusters create
winners and losers by gender, age, occupation, contract and work site. This
module turns raw survey columns into worker categories
(:mod:`~clusterimpact.workers.categories`) and estimates effects by subgroup
with one joint covariance (:mod:`~clusterimpact.workers.joint`).

Examples
--------
>>> import clusterimpact as ci
>>> ci.workers.gender(["F", "M"]).tolist()
['female', 'male']
"""

from clusterimpact.workers.categories import (
    age_band,
    cell_sizes,
    contract,
    education_level,
    gender,
    intersect,
    life_cycle,
    migrant,
    occupation_isco,
    skill_level,
    work_site,
)
from clusterimpact.workers.displacement import (
    exposure_did,
    exposure_twfe,
    outsourcing_effects,
    supplier_exposure,
    tier_effects,
)
from clusterimpact.workers.distributional import (
    WinnersLosers,
    changes_in_changes,
    quantile_did,
    winners_losers,
)
from clusterimpact.workers.exclusion import (
    LeeBounds,
    attrition_table,
    employment_effects,
    imbens_manski,
    lee_bounds,
    retention_did,
    reweight_to_baseline,
)
from clusterimpact.workers.joint import SubgroupEffects, adjust_pvalues, subgroup_effects
from clusterimpact.workers.takeup import wald_did

__all__ = [
    "LeeBounds",
    "SubgroupEffects",
    "WinnersLosers",
    "adjust_pvalues",
    "age_band",
    "attrition_table",
    "cell_sizes",
    "changes_in_changes",
    "contract",
    "education_level",
    "employment_effects",
    "exposure_did",
    "exposure_twfe",
    "gender",
    "imbens_manski",
    "intersect",
    "lee_bounds",
    "life_cycle",
    "migrant",
    "occupation_isco",
    "outsourcing_effects",
    "quantile_did",
    "retention_did",
    "reweight_to_baseline",
    "skill_level",
    "subgroup_effects",
    "supplier_exposure",
    "tier_effects",
    "wald_did",
    "winners_losers",
    "work_site",
]
