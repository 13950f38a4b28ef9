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
from clusterimpact.workers.joint import SubgroupEffects, adjust_pvalues, subgroup_effects

__all__ = [
    "SubgroupEffects",
    "adjust_pvalues",
    "age_band",
    "cell_sizes",
    "contract",
    "education_level",
    "gender",
    "intersect",
    "life_cycle",
    "migrant",
    "occupation_isco",
    "skill_level",
    "subgroup_effects",
    "work_site",
]
