# Reference numbers for tests/inference/test_survey.py::test_event_study_survey_matches_r_svyglm,
# computed with R survey (Debian package r-cran-survey 4.1-1, R 4.2.2) from the package's copy
# of mpdta. Design: counties are the PSUs, states (countyreal %/% 1000) the strata, a sampling
# fraction of 0.3 in every stratum (fpc), lonely PSUs "adjust". Run from the repository root:
#   Rscript tests/reference/survey_event_study_r.R
# It writes tests/reference/survey_event_study_r.json.
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")
d <- read.csv("src/clusterimpact/datasets/data/mpdta/mpdta.csv")
d$state <- d$countyreal %/% 1000
d$f <- 0.3
des <- svydesign(ids = ~countyreal, strata = ~state, fpc = ~f, data = d)
rel <- ifelse(d$first.treat > 0, d$year - d$first.treat, NA)
events <- c(-4, -3, -2, 0, 1, 2, 3)           # every observed event time but the reference -1
names <- sprintf("e%s", sub("-", "m", events))
for (k in seq_along(events)) d[[names[k]]] <- as.numeric(!is.na(rel) & rel == events[k])
des <- update(des, em4 = d$em4, em3 = d$em3, em2 = d$em2, e0 = d$e0, e1 = d$e1, e2 = d$e2,
              e3 = d$e3)
# dynamic TWFE: event-time dummies with unit and year fixed effects (as dummies)
fit <- svyglm(as.formula(paste("lemp ~", paste(names, collapse = " + "),
                               "+ factor(countyreal) + factor(year)")), design = des)
# Sun & Abraham: cohort x event-time dummies (never-treated comparisons), then each event time's
# average over cohorts weighted by the cohort's share of the treated rows at that event time
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
des_sa <- svydesign(ids = ~countyreal, strata = ~state, fpc = ~f, data = d)
sa <- svyglm(as.formula(paste("lemp ~", paste(sa_terms, collapse = " + "),
                              "+ factor(countyreal) + factor(year)")), design = des_sa)
sa_est <- c(); sa_se <- c()
for (k in seq_along(events)) {
  terms <- sa_terms[endsWith(sa_terms, paste0("_", names[k]))]
  n_rows <- sapply(terms, function(t) sum(d[[t]]))
  w <- n_rows / sum(n_rows)
  cvec <- setNames(rep(0, length(coef(sa))), names(coef(sa)))
  cvec[terms] <- w
  con <- svycontrast(sa, cvec)
  sa_est <- c(sa_est, as.numeric(coef(con)))
  sa_se <- c(sa_se, as.numeric(SE(con)))
}
fmt <- function(x) paste0("[", paste(sprintf("%.15g", x), collapse = ", "), "]")
out <- paste0('{\n  "event_time": ', fmt(events),
              ',\n  "twfe_estimate": ', fmt(unname(coef(fit)[names])),
              ',\n  "twfe_se": ', fmt(unname(SE(fit)[names])),
              ',\n  "sun_abraham_estimate": ', fmt(sa_est),
              ',\n  "sun_abraham_se": ', fmt(sa_se),
              ',\n  "degf": ', degf(des), "\n}")
writeLines(out, "tests/reference/survey_event_study_r.json")
