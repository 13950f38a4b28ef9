# Reference numbers for clusterimpact's covariance registry on the castle-doctrine panel
# (Cheng & Hoekstra 2013; the package's `castle` dataset), from R clubSandwich, sandwich and plm.
#
# Run from the repository root (R is not needed by the test suite, which reads the JSON):
#   Rscript tests/reference/clubsandwich_castle.R
# writes tests/reference/clubsandwich_castle.json.
#
# Models (all clustered on the state, sid; 50 clusters):
#   twfe:     lm(l_homicide ~ post + factor(sid) + factor(year))         (fixed effects as dummies)
#   popwt:    the same with weights = popwt      (constant within state)
#   pop:      the same with weights = population (varies within state)
#   plm:      plm(l_homicide ~ post, effect = "twoways", index = c("sid", "year"))
#   event:    lm(l_homicide ~ ev_m4 + ev_m3 + ev_m2 + ev_0 + ... + ev_4 + factor(sid) + factor(year)),
#             ev_e = 1{year - effyear == e} for the adopting states, event time binned to [-4, 4]
#             (e < -4 counted in -4, e > 4 in 4), e = -1 omitted, never-adopters all zero.
suppressPackageStartupMessages({
  library(clubSandwich)
  library(sandwich)
  library(plm)
  library(jsonlite)
})

castle <- read.csv("src/clusterimpact/datasets/data/castle/castle.csv")
castle <- castle[order(castle$sid, castle$year), ]

cr_block <- function(fit, cluster, term, types = c("CR0", "CR1", "CR1S", "CR2"),
                     ...) {
  out <- list()
  for (type in types) {
    v <- vcovCR(fit, cluster = cluster, type = type, ...)
    ct <- coef_test(fit, vcov = v, test = "Satterthwaite", coefs = term)
    out[[type]] <- list(var = unname(v[term, term]), se = ct$SE, df_satterthwaite = ct$df_Satt,
                        t = ct$tstat)
  }
  out
}

# The state dummies make I - H_gg singular in the lm with dummies, so clubSandwich's CR3 (which
# inverts it with solve()) fails there; CR3 is computed on the model with the state effects
# partialled out instead: y, post and the year dummies demeaned within state (weighted by w),
# an lm without intercept, whose hat matrix is that of the dummy model less the state dummies
# (Frisch-Waugh-Lovell; same coefficient and residuals).
within_sid <- function(w) {
  yd <- model.matrix(~ factor(year), data = castle)[, -1]
  dm <- function(v) v - ave(v * w, castle$sid, FUN = sum) / ave(w, castle$sid, FUN = sum)
  d <- data.frame(y = dm(castle$l_homicide), post = dm(castle$post))
  for (j in seq_len(ncol(yd))) d[[paste0("yr", j)]] <- dm(yd[, j])
  d$w <- w
  d
}
within_formula <- paste("y ~ 0 + post +", paste0("yr", 1:10, collapse = " + "))

# --- two-way fixed effects, dummies --------------------------------------------------------
m_twfe <- lm(l_homicide ~ post + factor(sid) + factor(year), data = castle)
twfe <- list(
  formula = "lm(l_homicide ~ post + factor(sid) + factor(year), data = castle)",
  coef = unname(coef(m_twfe)["post"]),
  n = nobs(m_twfe), n_coef = length(coef(m_twfe)),
  clubsandwich = cr_block(m_twfe, castle$sid, "post"),
  clubsandwich_within = cr_block(lm(as.formula(within_formula), data = within_sid(rep(1, nrow(castle)))),
                                 castle$sid, "post", types = c("CR2", "CR3")),
  sandwich = list(
    HC1 = unname(vcovHC(m_twfe, type = "HC1")["post", "post"]),
    CL_sid_HC1 = unname(vcovCL(m_twfe, cluster = ~sid, type = "HC1")["post", "post"]),
    CL_sid_HC0 = unname(vcovCL(m_twfe, cluster = ~sid, type = "HC0")["post", "post"]),
    CL_sid_year_HC1 = unname(vcovCL(m_twfe, cluster = ~ sid + year, type = "HC1")["post", "post"]),
    CL_sid_year_HC0 = unname(vcovCL(m_twfe, cluster = ~ sid + year, type = "HC0")["post", "post"]),
    CL_sid_year_HC1_multi0 = unname(vcovCL(m_twfe, cluster = ~ sid + year, type = "HC1",
                                           multi0 = TRUE)["post", "post"]),
    CL_sid_year_HC0_multi0 = unname(vcovCL(m_twfe, cluster = ~ sid + year, type = "HC0",
                                           multi0 = TRUE)["post", "post"])
  )
)

# --- weighted -----------------------------------------------------------------------------
weighted <- function(wcol) {
  m <- lm(l_homicide ~ post + factor(sid) + factor(year), data = castle, weights = castle[[wcol]])
  wd <- within_sid(castle[[wcol]])
  Xd <- model.matrix(~ post + factor(sid) + factor(year), data = castle)
  list(
    formula = sprintf("lm(l_homicide ~ post + factor(sid) + factor(year), data = castle, weights = %s)",
                      wcol),
    coef = unname(coef(m)["post"]),
    clubsandwich_default = cr_block(m, castle$sid, "post", types = c("CR1", "CR1S", "CR2")),
    clubsandwich_within_default = cr_block(lm(as.formula(within_formula), data = wd, weights = w),
                                           castle$sid, "post", types = c("CR2", "CR3")),
    clubsandwich_inverse_var = cr_block(m, castle$sid, "post", types = c("CR2"),
                                        inverse_var = TRUE),
    clubsandwich_within_inverse_var = cr_block(lm(as.formula(within_formula), data = wd, weights = w),
                                               castle$sid, "post", types = c("CR2", "CR3"),
                                               inverse_var = TRUE),
    clubsandwich_scaled_ols_dummies = cr_block(
      lm(I(sqrt(w) * l_homicide) ~ 0 + I(sqrt(w) * Xd), data = cbind(castle, w = castle[[wcol]])),
      castle$sid, "I(sqrt(w) * Xd)post", types = c("CR2")),
    clubsandwich_scaled_ols_within = cr_block(
      lm(I(sqrt(w) * y) ~ 0 + I(sqrt(w) * as.matrix(wd[, c("post", paste0("yr", 1:10))])), data = wd),
      castle$sid, "I(sqrt(w) * as.matrix(wd[, c(\"post\", paste0(\"yr\", 1:10))]))post",
      types = c("CR2", "CR3")),
    note = paste("clubsandwich_default: vcovCR(type, inverse_var = NULL), which for a weighted lm",
                 "is inverse_var = FALSE with target = identity (working model Phi = I);",
                 "clubsandwich_inverse_var: inverse_var = TRUE (working model Phi = W^-1);",
                 "clubsandwich_within_*: the same on the model with the state effects partialled",
                 "out (weighted within-state demeaning);",
                 "clubsandwich_scaled_ols_*: the unweighted OLS of sqrt(w) y on sqrt(w) X",
                 "(X = intercept, post and the dummies, or the within-state demeaned post and",
                 "year dummies), i.e. CR2 of the W^(1/2)-scaled model.")
  )
}

# --- plm two-way within estimator ---------------------------------------------------------
pd <- pdata.frame(castle, index = c("sid", "year"))
m_plm <- plm(l_homicide ~ post, data = pd, effect = "twoways", model = "within")
plm_block <- list(
  formula = "plm(l_homicide ~ post, data = pdata.frame(castle, index = c('sid','year')), effect = 'twoways', model = 'within')",
  coef = unname(coef(m_plm)["post"]),
  clubsandwich = cr_block(m_plm, pd$sid, "post", types = c("CR0", "CR1", "CR1S", "CR2", "CR3")),
  clubsandwich_ignore_FE = cr_block(m_plm, pd$sid, "post", types = c("CR2", "CR3"),
                                    ignore_FE = TRUE),
  note = paste("clubSandwich's plm method adds the (demeaned) year dummies to the hat matrix for",
               "CR2 but not for CR3, whose hat matrix is that of the within-transformed post only.")
)

# --- event study and Wald tests -------------------------------------------------------------
ev <- castle$year - castle$effyear
ev[is.na(ev)] <- NA
ev <- pmin(pmax(ev, -4), 4)
ev_names <- c()
for (e in c(-4, -3, -2, 0, 1, 2, 3, 4)) {
  nm <- if (e < 0) paste0("ev_m", -e) else paste0("ev_", e)
  castle[[nm]] <- as.numeric(!is.na(ev) & ev == e)
  ev_names <- c(ev_names, nm)
}
f_ev <- as.formula(paste("l_homicide ~", paste(ev_names, collapse = " + "),
                         "+ factor(sid) + factor(year)"))
m_ev <- lm(f_ev, data = castle)
v_ev <- vcovCR(m_ev, cluster = castle$sid, type = "CR2")
ct_ev <- coef_test(m_ev, vcov = v_ev, test = "Satterthwaite", coefs = ev_names)
leads <- c("ev_m4", "ev_m3", "ev_m2")
wald <- function(test, vc) {
  w <- Wald_test(m_ev, constraints = constrain_zero(leads), vcov = vc, test = test)
  list(Fstat = w$Fstat, df_num = w$df_num, df_denom = w$df_denom, p_val = w$p_val)
}
event <- list(
  formula = deparse1(f_ev),
  terms = ev_names,
  event_time = c(-4, -3, -2, 0, 1, 2, 3, 4),
  coef = unname(coef(m_ev)[ev_names]),
  CR2 = list(vcov = unname(v_ev[ev_names, ev_names]), se = ct_ev$SE,
             df_satterthwaite = ct_ev$df_Satt),
  wald_leads = list(
    hypothesis = "ev_m4 = ev_m3 = ev_m2 = 0",
    CR2_HTZ = wald("HTZ", v_ev),
    CR2_naive_F = wald("Naive-F", v_ev),
    CR2_chi_sq = wald("chi-sq", v_ev),
    CR1_naive_F = wald("Naive-F", vcovCR(m_ev, cluster = castle$sid, type = "CR1"))
  )
)

out <- list(
  source = "tests/reference/clubsandwich_castle.R",
  data = "clusterimpact dataset castle (src/clusterimpact/datasets/data/castle/castle.csv), sorted by sid, year",
  cluster = "sid (50 states)",
  versions = list(R = R.version.string,
                  clubSandwich = as.character(packageVersion("clubSandwich")),
                  sandwich = as.character(packageVersion("sandwich")),
                  plm = as.character(packageVersion("plm")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  twfe = twfe,
  weighted_popwt = weighted("popwt"),
  weighted_population = weighted("population"),
  plm = plm_block,
  event_study = event
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/clubsandwich_castle.json")
