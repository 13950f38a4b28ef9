# Reference numbers for clusterimpact's covariance registry on mpdta (Callaway & Sant'Anna 2021;
# the package's `mpdta` dataset: 500 counties, 2003-2007), from R clubSandwich and sandwich.
#
# Run from the repository root (the test suite only reads the JSON):
#   Rscript tests/reference/clubsandwich_mpdta.R
# writes tests/reference/clubsandwich_mpdta.json.
#
# Model: lm(lemp ~ D + factor(countyreal) + factor(year)), D = treat * 1{year >= first.treat}
# (treat:post), clustered on the county (500 clusters; mpdta has no state column).
# Weighted: weights = exp(lpop) (county population, constant within county).
suppressPackageStartupMessages({
  library(clubSandwich)
  library(sandwich)
  library(jsonlite)
})

mpdta <- read.csv("src/clusterimpact/datasets/data/mpdta/mpdta.csv")
mpdta <- mpdta[order(mpdta$countyreal, mpdta$year), ]
mpdta$D <- as.numeric(mpdta$treat == 1 & mpdta$year >= mpdta$first.treat)
mpdta$pop <- exp(mpdta$lpop)

cr_block <- function(fit, cluster, term, types, ...) {
  out <- list()
  for (type in types) {
    v <- vcovCR(fit, cluster = cluster, type = type, ...)
    ct <- coef_test(fit, vcov = v, test = "Satterthwaite", coefs = term)
    out[[type]] <- list(var = unname(v[term, term]), se = ct$SE, df_satterthwaite = ct$df_Satt,
                        t = ct$tstat)
  }
  out
}

# clubSandwich's CR3 inverts I - H_gg with solve(), singular when the cluster's own dummy is in
# the model; CR3 is computed on the model with the county effects partialled out (weighted
# within-county demeaning of lemp, D and the year dummies; Frisch-Waugh-Lovell).
within_county <- function(w) {
  yd <- model.matrix(~ factor(year), data = mpdta)[, -1]
  dm <- function(v) v - ave(v * w, mpdta$countyreal, FUN = sum) / ave(w, mpdta$countyreal, FUN = sum)
  d <- data.frame(y = dm(mpdta$lemp), D = dm(mpdta$D))
  for (j in seq_len(ncol(yd))) d[[paste0("yr", j)]] <- dm(yd[, j])
  d$w <- w
  d
}
f_within <- as.formula(paste("y ~ 0 + D +", paste0("yr", 1:4, collapse = " + ")))

m <- lm(lemp ~ D + factor(countyreal) + factor(year), data = mpdta)
unweighted <- list(
  formula = "lm(lemp ~ D + factor(countyreal) + factor(year), data = mpdta)",
  coef = unname(coef(m)["D"]), n = nobs(m), n_coef = length(coef(m)),
  clubsandwich = cr_block(m, mpdta$countyreal, "D", types = c("CR0", "CR1", "CR1S", "CR2")),
  clubsandwich_within = cr_block(lm(f_within, data = within_county(rep(1, nrow(mpdta)))),
                                 mpdta$countyreal, "D", types = c("CR2", "CR3")),
  sandwich = list(
    HC1 = unname(vcovHC(m, type = "HC1")["D", "D"]),
    CL_county_HC1 = unname(vcovCL(m, cluster = ~countyreal, type = "HC1")["D", "D"]),
    CL_county_year_HC0 = unname(vcovCL(m, cluster = ~ countyreal + year, type = "HC0")["D", "D"]),
    CL_county_year_HC1 = unname(vcovCL(m, cluster = ~ countyreal + year, type = "HC1")["D", "D"])
  )
)

mw <- lm(lemp ~ D + factor(countyreal) + factor(year), data = mpdta, weights = pop)
wd <- within_county(mpdta$pop)
weighted <- list(
  formula = "lm(lemp ~ D + factor(countyreal) + factor(year), data = mpdta, weights = exp(lpop))",
  coef = unname(coef(mw)["D"]),
  clubsandwich_default = cr_block(mw, mpdta$countyreal, "D", types = c("CR1", "CR1S", "CR2")),
  clubsandwich_inverse_var = cr_block(mw, mpdta$countyreal, "D", types = c("CR2"),
                                      inverse_var = TRUE),
  clubsandwich_within_inverse_var = cr_block(lm(f_within, data = wd, weights = w),
                                             mpdta$countyreal, "D", types = c("CR2", "CR3"),
                                             inverse_var = TRUE),
  note = paste("clubsandwich_default: inverse_var = FALSE, target = identity (clubSandwich's",
               "default for a weighted lm); inverse_var = TRUE: working model Phi = W^-1.")
)

out <- list(
  source = "tests/reference/clubsandwich_mpdta.R",
  data = "clusterimpact dataset mpdta (src/clusterimpact/datasets/data/mpdta/mpdta.csv), sorted by countyreal, year",
  cluster = "countyreal (500 counties)",
  versions = list(R = R.version.string,
                  clubSandwich = as.character(packageVersion("clubSandwich")),
                  sandwich = as.character(packageVersion("sandwich")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  unweighted = unweighted,
  weighted_pop = weighted
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/clubsandwich_mpdta.json")
