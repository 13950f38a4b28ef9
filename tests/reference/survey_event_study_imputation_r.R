# Reference numbers for tests/inference/test_survey_imputation.py (event_study(method=
# "imputation" / "two_stage", vcov="survey")), computed with R survey (Debian package
# r-cran-survey 4.1-1, R 4.2.2) from the package's copy of mpdta. Design: counties are the PSUs,
# states (countyreal %/% 1000) the strata, a sampling fraction of 0.3 in every stratum (fpc),
# lonely PSUs "adjust", and county-level sampling weights w = 1 + countyreal %% 3.
#
# Post periods: on a balanced panel with unit-constant weights the imputation (BJS) estimate at
# event time e equals the weighted-mass average, over the treated cohort-period cells (g, t) with
# t - g = e, of the coefficients of a (weighted) regression of y on a dummy for every treated
# cohort-period cell plus unit and period fixed effects (Wooldridge 2021, "extended TWFE"). Being
# the same function of the data, it has the same linearisation, so svyglm on that regression with
# the survey linearisation of sum_c W_c delta_c / sum_c W_c (W_c: the cell's weight total, from
# svytotal) gives the design-based estimate and standard error of each event-time estimate.
# Leads: BJS's pre-trend test regression (y on lead dummies for event times -3..-1 with unit and
# period fixed effects, untreated rows only), svyglm on the subset (domain) design.
# Run from the repository root:
#   Rscript tests/reference/survey_event_study_imputation_r.R
# It writes tests/reference/survey_event_study_imputation_r.json.
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")
d <- read.csv("src/clusterimpact/datasets/data/mpdta/mpdta.csv")
d$state <- d$countyreal %/% 1000
d$f <- 0.3
d$w <- 1 + d$countyreal %% 3
g <- d$first.treat
post <- g > 0 & d$year >= g
cells <- unique(data.frame(g = g[post], t = d$year[post]))
cells <- cells[order(cells$g, cells$t), ]
terms <- sprintf("c%d_%d", cells$g, cells$t)
for (k in seq_along(terms)) d[[terms[k]]] <- as.numeric(g == cells$g[k] & d$year == cells$t[k])
rel <- ifelse(g > 0, d$year - g, NA)
leads <- c(-3, -2, -1)
lead_terms <- sprintf("l%d", -leads)
untreated <- !(g > 0 & d$year >= g)
for (k in seq_along(leads)) d[[lead_terms[k]]] <- as.numeric(untreated & !is.na(rel) & rel == leads[k])
d$untreated <- untreated
des <- svydesign(ids = ~countyreal, strata = ~state, fpc = ~f, weights = ~w, data = d)
fit <- svyglm(as.formula(paste("lemp ~", paste(terms, collapse = " + "),
                               "+ factor(countyreal) + factor(year)")), design = des)
tot <- svytotal(as.formula(paste("~", paste(terms, collapse = " + "))), des, influence = TRUE)
# svyglm's linearisation of its coefficients, as survey:::svy.varcoef forms it (svyglm's own
# influence = TRUE fails in survey 4.1-1: "object 'estfun' not found", a typo '<' for '<-'),
# checked against vcov(fit)
estfun <- model.matrix(fit) * resid(fit, "working") * fit$weights
infl_fit <- estfun[, fit$qr$pivot[seq_len(fit$rank)]] %*% fit$naive.cov
stopifnot(max(abs(svyrecvar(infl_fit, des$cluster, des$strata, des$fpc) - vcov(fit)))
          < 1e-10 * max(abs(vcov(fit))))
# joint linearisation of the cell coefficients and the cells' weight totals (design variance by
# svyrecvar), then each event time's mass-weighted average sum_c W_c delta_c / sum_c W_c by
# svycontrast's delta method: the shares are estimated too
infl <- cbind(infl_fit[, terms], attr(tot, "influence"))
joint <- c(coef(fit)[terms], setNames(coef(tot), paste0("W_", terms)))
stat <- structure(joint, var = svyrecvar(infl, des$cluster, des$strata, des$fpc),
                  statistic = "joint", class = "svystat")
events <- sort(unique(cells$t - cells$g))
est <- c(); se <- c()
for (e in events) {
  sel <- terms[cells$t - cells$g == e]
  num <- paste(sprintf("W_%s * %s", sel, sel), collapse = " + ")
  den <- paste(sprintf("W_%s", sel), collapse = " + ")
  con <- svycontrast(stat, list(tau = parse(text = sprintf("(%s) / (%s)", num, den))[[1]]))
  est <- c(est, as.numeric(coef(con)))
  se <- c(se, as.numeric(SE(con)))
}
lead_fit <- svyglm(as.formula(paste("lemp ~", paste(lead_terms, collapse = " + "),
                                    "+ factor(countyreal) + factor(year)")),
                   design = subset(des, untreated))
fmt <- function(x) paste0("[", paste(sprintf("%.15g", x), collapse = ", "), "]")
out <- paste0('{\n  "event_time": ', fmt(events),
              ',\n  "estimate": ', fmt(est),
              ',\n  "std_error": ', fmt(se),
              ',\n  "lead_event_time": ', fmt(leads),
              ',\n  "lead_estimate": ', fmt(unname(coef(lead_fit)[lead_terms])),
              ',\n  "lead_std_error": ', fmt(unname(SE(lead_fit)[lead_terms])),
              ',\n  "degf": ', degf(des), "\n}")
writeLines(out, "tests/reference/survey_event_study_imputation_r.json")
