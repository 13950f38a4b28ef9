# Reference numbers for tests/inference/test_survey.py, computed with R survey
# (Debian package r-cran-survey 4.1-1, R 4.2.2) from survey_panel.csv
# (made by survey_panel_make.py). Run from the repository root:
#   Rscript tests/reference/survey_r.R
# It writes tests/reference/survey_r.json.
suppressPackageStartupMessages(library(survey))
d <- read.csv("tests/reference/survey_panel.csv")
p1 <- d[d$period == 1, ]
p2 <- d[d$period == 2, ]
wide <- merge(p1[, c("worker", "stratum", "psu", "first_treat", "w", "N_h", "f_h", "y")],
              p2[, c("worker", "y")], by = "worker", suffixes = c("1", "2"))
wide$dy <- wide$y2 - wide$y1
wide$treated <- as.numeric(wide$first_treat > 0)
main <- wide[wide$stratum != 7, ]   # no lonely PSU
num <- function(x) unname(as.numeric(x))

did_numbers <- function(des) {
  by <- svyby(~dy, ~treated, des, svymean, covmat = TRUE)
  con <- svycontrast(by, c(-1, 1))
  g <- svyglm(dy ~ treated, design = des)
  list(att = num(coef(con)), att_se = num(SE(con)),
       glm_coef = num(coef(g)["treated"]), glm_se = num(SE(g)["treated"]),
       mean_dy = num(coef(svymean(~dy, des))), mean_dy_se = num(SE(svymean(~dy, des))),
       degf = degf(des))
}

out <- list()
out$count_fpc <- did_numbers(svydesign(ids = ~psu, strata = ~stratum, weights = ~w, fpc = ~N_h,
                                       nest = TRUE, data = main))
out$fraction_fpc <- did_numbers(svydesign(ids = ~psu, strata = ~stratum, weights = ~w, fpc = ~f_h,
                                          nest = TRUE, data = main))
out$no_fpc <- did_numbers(svydesign(ids = ~psu, strata = ~stratum, weights = ~w, nest = TRUE,
                                    data = main))
# PSU = worker-level rows of a long file: the mean of y over both periods, clustered
long <- d[d$stratum != 7, ]
des_long <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, fpc = ~N_h, nest = TRUE,
                      data = long)
m <- svymean(~y, des_long)
r <- svyratio(~y, ~N_h, des_long)
out$long <- list(mean_y = num(coef(m)), mean_y_se = num(SE(m)),
                 ratio = num(coef(r)), ratio_se = num(SE(r)))
for (opt in c("adjust", "average", "certainty", "remove")) {
  options(survey.lonely.psu = opt)
  out[[paste0("lonely_", opt)]] <- did_numbers(
    svydesign(ids = ~psu, strata = ~stratum, weights = ~w, fpc = ~N_h, nest = TRUE, data = wide))
}
out$source <- paste0("R ", R.version$major, ".", R.version$minor, ", survey ",
                     as.character(packageVersion("survey")), "; tests/reference/survey_r.R")
to_json <- function(x) {
  fmt <- function(v) if (is.character(v)) paste0('"', v, '"') else formatC(v, digits = 17, format = "g")
  parts <- vapply(names(x), function(k) {
    v <- x[[k]]
    if (is.list(v)) {
      inner <- vapply(names(v), function(j) paste0('    "', j, '": ', fmt(v[[j]])), "")
      paste0('  "', k, '": {\n', paste(inner, collapse = ",\n"), "\n  }")
    } else paste0('  "', k, '": ', fmt(v))
  }, "")
  paste0("{\n", paste(parts, collapse = ",\n"), "\n}")
}
writeLines(to_json(out), "tests/reference/survey_r.json")
