# Reference numbers for tests/inference/test_survey.py::test_event_study_survey_matches_r_svyglm,
# computed with R survey (Debian package r-cran-survey 4.1-1, R 4.2.2) from the package's copy
# of mpdta. Design: counties are the PSUs, states (countyreal %/% 1000) the strata, a sampling
# fraction of 0.3 in every stratum (fpc), lonely PSUs "adjust"; unweighted, and ("weighted_*")
# with county-level sampling weights w = 1 + countyreal %% 3. Run from the repository root:
#   Rscript tests/reference/survey_event_study_r.R
# It writes tests/reference/survey_event_study_r.json.
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")
d <- read.csv("src/clusterimpact/datasets/data/mpdta/mpdta.csv")
d$state <- d$countyreal %/% 1000
d$f <- 0.3
rel <- ifelse(d$first.treat > 0, d$year - d$first.treat, NA)
events <- c(-4, -3, -2, 0, 1, 2, 3)           # every observed event time but the reference -1
names <- sprintf("e%s", sub("-", "m", events))
for (k in seq_along(events)) d[[names[k]]] <- as.numeric(!is.na(rel) & rel == events[k])
cohorts <- sort(unique(d$first.treat[d$first.treat > 0]))
sa_terms <- c()
for (g in cohorts) for (k in seq_along(events)) {
  v <- as.numeric(d$first.treat == g & !is.na(rel) & rel == events[k])
  if (sum(v) > 0) {
    nm <- sprintf("g%d_%s", g, names[k])
    d[[nm]] <- v
    sa_terms <- c(sa_terms, nm)
  }
}
fe <- "+ factor(countyreal) + factor(year)"
fit_both <- function(weights) {
  des <- if (is.null(weights)) svydesign(ids = ~countyreal, strata = ~state, fpc = ~f, data = d)
         else svydesign(ids = ~countyreal, strata = ~state, fpc = ~f, weights = weights, data = d)
  # dynamic TWFE: event-time dummies with unit and year fixed effects (as dummies)
  fit <- svyglm(as.formula(paste("lemp ~", paste(names, collapse = " + "), fe)), design = des)
  # Sun & Abraham: cohort x event-time dummies (never-treated comparisons), then each event
  # time's average over cohorts weighted by the cohort's share of the treated rows' (sampling)
  # weight at that event time
  sa <- svyglm(as.formula(paste("lemp ~", paste(sa_terms, collapse = " + "), fe)), design = des)
  w_row <- weights(des)
  sa_est <- c(); sa_se <- c()
  for (k in seq_along(events)) {
    terms <- sa_terms[endsWith(sa_terms, paste0("_", names[k]))]
    mass <- sapply(terms, function(t) sum(w_row * d[[t]]))
    cvec <- setNames(rep(0, length(coef(sa))), names(coef(sa)))
    cvec[terms] <- mass / sum(mass)
    con <- svycontrast(sa, cvec)
    sa_est <- c(sa_est, as.numeric(coef(con)))
    sa_se <- c(sa_se, as.numeric(SE(con)))
  }
  list(twfe_est = unname(coef(fit)[names]), twfe_se = unname(SE(fit)[names]),
       sa_est = sa_est, sa_se = sa_se, degf = degf(des))
}
u <- fit_both(NULL)
d$w <- 1 + d$countyreal %% 3                  # county-level sampling weights (second fixture)
wt <- fit_both(~w)
fmt <- function(x) paste0("[", paste(sprintf("%.15g", x), collapse = ", "), "]")
out <- paste0('{\n  "event_time": ', fmt(events),
              ',\n  "twfe_estimate": ', fmt(u$twfe_est),
              ',\n  "twfe_se": ', fmt(u$twfe_se),
              ',\n  "sun_abraham_estimate": ', fmt(u$sa_est),
              ',\n  "sun_abraham_se": ', fmt(u$sa_se),
              ',\n  "degf": ', u$degf,
              ',\n  "weighted_twfe_estimate": ', fmt(wt$twfe_est),
              ',\n  "weighted_twfe_se": ', fmt(wt$twfe_se),
              ',\n  "weighted_sun_abraham_estimate": ', fmt(wt$sa_est),
              ',\n  "weighted_sun_abraham_se": ', fmt(wt$sa_se), "\n}")
writeLines(out, "tests/reference/survey_event_study_r.json")
