"""The MSC–immune–organ model of SLE, written once in sympy.

Structure (every arrow is a term below; docs/model.md lists them all):

* **Host bone-marrow MSC** ``host_msc_function`` (0–1): intrinsically impaired in lupus
  (Sun 2009), damaged further by IL-17 (Ma 2015), repaired towards normal by a pulse
  of healthy donor MSC (Sun 2009: MSCT reconstructs the osteoblastic niche), relaxing
  back to its intrinsic level over months. It restrains B-cell and Th17 activation,
  supports Treg and the osteoblastic niche (trabecular bone).
* **Donor MSC** lodge in the lung and are cleared with a ~24 h half-life (Lee 2009;
  target M14), the pulse triggering FASL-dependent T-cell apoptosis → macrophage TGF-β
  (``macrophage_tgfb``) → Treg (Akiyama 2012). The response outlasts the cells.
* **Autoimmune loop** (Arazi & Neumann 2010, bistable): autoreactive B/plasma cells →
  anti-dsDNA → immune complexes (cleared by complement, consuming C3/C4) → systemic
  inflammation → Th17 help → more B-cell activation. A sigmoidal (Hill-4) activation
  gives a quiescent and an active state; a transient push can cross between them.
* **Organs**: renal immune-complex deposits → reversible renal activity (Budu-Grajdeanu
  2010) → irreversible chronic damage (Hao 2014); skin, joints, CNS driven by
  inflammation; lymphocytes, neutrophils, platelets; trabecular bone.
* **Drugs** as effect compartments: cyclophosphamide (bolus), glucocorticoid and
  antimetabolites (mycophenolate, azathioprine) as piecewise-constant daily inputs.
* **Hazards**: cumulative hazards of death (kidney failure, infection) and of serious
  infection; events are sampled from them (time-rescaling) after integration.

Time is in days for both species.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import sympy as sp

from lupusim.model._spec import ModelBuilder, ModelSpec

Species = Literal["mouse", "human"]


def _relax(rate: sp.Expr, target: sp.Expr, value: sp.Expr) -> sp.Expr:
    """First-order relaxation ``rate · (target − value)``."""
    return rate * (target - value)


def _emax(x: sp.Expr, half: sp.Expr) -> sp.Expr:
    """Saturating fraction ``x / (x + half)``."""
    return x / (x + half)


@cache
def build_model(species: Species) -> ModelSpec:
    """Build the symbolic SLE model for ``species`` ("mouse" or "human")."""
    if species not in ("mouse", "human"):
        raise ValueError(f"unknown species {species!r}")
    m = ModelBuilder(f"lupusim_sle_{species}")
    t = m.time

    # ----------------------------------------------------------------- states
    H = m.state("host_msc_function", "1", "Host bone-marrow MSC function (1 = healthy).")
    M = m.state("donor_msc_lung", "cells/kg", "Viable donor MSC (lodged in lung).")
    Mp = m.state(
        "donor_msc_potency", "cells/kg", "Donor MSC weighted by source potency (healthy = 1)."
    )
    G = m.state(
        "macrophage_tgfb", "1", "Macrophage TGF-β signal after MSC-induced T-cell apoptosis."
    )
    R = m.state("treg", "% CD4", "CD4+CD25+Foxp3+ regulatory T cells.")
    S = m.state("th17", "% CD4", "IL-17-producing CD4 T cells.")
    B = m.state("autoreactive_b", "1", "Autoreactive B/plasma-cell burden (0–1).")
    A = m.state("anti_dsdna", "IU/mL", "Serum anti-dsDNA antibodies.")
    X = m.state("immune_complexes", "1", "Circulating immune complexes (normalised).")
    C3 = m.state("c3", "g/L", "Serum complement C3.")
    C4 = m.state("c4", "g/L", "Serum complement C4.")
    P = m.state("inflammation", "1", "Systemic pro-inflammatory mediators (IL-17/IL-6/IFN).")
    Ir = m.state("renal_deposits", "1", "Glomerular immune-complex deposits (normalised).")
    K = m.state("renal_activity", "1", "Reversible renal inflammation (active nephritis).")
    Cr = m.state("renal_chronic", "1", "Irreversible chronic kidney damage (nephron loss).")
    Sk = m.state("skin_activity", "1", "Mucocutaneous disease activity.")
    J = m.state("joint_activity", "1", "Musculoskeletal (joint) disease activity.")
    N = m.state("cns_activity", "1", "Neuropsychiatric disease activity.")
    L = m.state("lymphocytes", "1e9/L", "Blood lymphocytes.")
    Ne = m.state("neutrophils", "1e9/L", "Blood neutrophils.")
    Pl = m.state("platelets", "1e9/L", "Blood platelets.")
    BV = m.state("bone_bv_tv", "%", "Trabecular bone volume fraction.")
    Ec = m.state("cyclophosphamide_exposure", "1", "Cytotoxic exposure, in reference doses.")
    Eg = m.state("glucocorticoid_effect", "mg/day", "Prednisone-equivalent effect level.")
    Em = m.state("antimetabolite_effect", "1", "MMF/azathioprine effect, in full doses.")
    F = m.state(
        "flare_drive",
        "1/day",
        "Extrinsic burst of autoreactive B-cell activation (infection, UV, non-adherence).",
    )
    Hd = m.state("cum_hazard_death", "1", "Cumulative hazard of death.")
    Hi = m.state("cum_hazard_infection", "1", "Cumulative hazard of serious infection.")
    Gc = m.state("cum_prednisone", "g", "Cumulative prednisone-equivalent dose.")

    # ----------------------------------------------------------------- inputs
    u_pred = m.input("prednisone_mg_day", "mg/day", "Glucocorticoid, prednisone-equivalent.")
    u_mmf = m.input("mycophenolate_g_day", "g/day", "Mycophenolate mofetil.")
    u_aza = m.input("azathioprine_mg_kg_day", "mg/kg/day", "Azathioprine.")
    u_hcq = m.input("hydroxychloroquine_mg_day", "mg/day", "Hydroxychloroquine.")

    # ------------------------------------------------------------- parameters
    p = m.parameter
    # subject
    female = p("female", "1", "1 for female, 0 for male.")
    age0 = p("age_at_start_years", "years", "Age at simulation time 0.")
    weight = p("body_weight_kg", "kg", "Body weight.")
    # host MSC
    h_int = p("msc_intrinsic_function", "1", "Intrinsic host MSC capacity (1 healthy).")
    k_h = p("k_msc_recovery", "1/day", "Rate host MSC function returns to intrinsic level.")
    k_h17 = p("k_msc_il17_damage", "1/day", "IL-17 damage of host MSC per unit Th17/reference.")
    k_hrep = p("k_msc_niche_repair", "1/day", "Niche repair rate at saturating donor MSC.")
    # donor MSC
    k_lung = p("k_donor_msc_clearance", "1/day", "Clearance of lung-trapped donor MSC.")
    K_msc = p("donor_msc_half_effect", "cells/kg", "Potent donor MSC giving half effect.")
    # TGF-beta / Treg / Th17
    k_g = p("k_tgfb_induction", "1/day", "Macrophage TGF-β induction at saturating MSC.")
    d_g = p("k_tgfb_decay", "1/day", "Decay of the macrophage TGF-β signal.")
    k_r = p("k_treg_turnover", "1/day", "Treg turnover rate.")
    r_base = p("treg_healthy_pct", "% CD4", "Treg level with healthy MSC and no inflammation.")
    w_rh = p("treg_msc_support", "1", "Share of Treg support that depends on host MSC.")
    a_rg = p("treg_tgfb_gain", "1", "Relative Treg induction per unit TGF-β signal.")
    a_rp = p("treg_inflammation_loss", "1", "Treg loss per unit inflammation.")
    k_s = p("k_th17_turnover", "1/day", "Th17 turnover rate.")
    s_base = p("th17_healthy_pct", "% CD4", "Th17 level in health.")
    a_sp = p("th17_inflammation_gain", "1", "Th17 expansion per unit inflammation.")
    k_apop = p("k_msc_t_apoptosis", "1/day", "MSC-induced effector T-cell apoptosis rate.")
    c_h = p("msc_restraint", "1", "Restraint of lymphocyte activation per unit MSC function.")
    c_r = p("treg_restraint", "1", "Restraint of activation per Treg at reference level.")
    # B cells, antibodies, complement
    s_b = p("b_genetic_drive", "1/day", "Genetic (e.g. lpr) drive of autoreactive B cells.")
    v_b = p("b_activation_max", "1/day", "Maximal autoreactive B-cell activation rate.")
    K_b = p("b_help_half", "1", "Help giving half-maximal B activation (Hill 2).")
    w_bs = p("b_help_th17", "1", "Weight of Th17 help in B activation.")
    w_bx = p("b_help_ic", "1", "Weight of immune-complex (TLR) help in B activation.")
    d_b = p("k_b_loss", "1/day", "Loss rate of autoreactive B/plasma cells.")
    a_bg = p("b_suppression_tgfb", "1", "Relative rise of B loss per unit TGF-β (via Breg).")
    k_a = p("k_antibody_turnover", "1/day", "Anti-dsDNA IgG turnover (1/half-life·ln2).")
    a_base = p("anti_dsdna_healthy", "IU/mL", "Anti-dsDNA level without autoreactivity.")
    a_frac = p(
        "anti_dsdna_fraction", "1", "Share of the pathogenic autoantibody measured as anti-dsDNA."
    )
    a_gain = p("anti_dsdna_max", "IU/mL", "Anti-dsDNA at full autoreactive burden.")
    a_ref = p("anti_dsdna_reference", "IU/mL", "Anti-dsDNA giving one unit of IC formation.")
    k_x = p("k_ic_formation", "1/day", "Immune-complex formation per reference anti-dsDNA.")
    k_xc = p("k_ic_clearance", "1/day", "Complement-dependent IC clearance.")
    x_c0 = p("ic_clearance_c3_independent", "1", "C3-independent share of IC clearance.")
    c3n = p("c3_normal", "g/L", "Normal serum C3.")
    k_c3 = p("k_c3_synthesis", "1/day", "C3 synthesis/turnover rate.")
    k_c3x = p("k_c3_consumption", "1/day", "C3 consumption per unit immune complexes.")
    c4n = p("c4_normal", "g/L", "Normal serum C4.")
    k_c4 = p("k_c4_synthesis", "1/day", "C4 synthesis/turnover rate.")
    k_c4x = p("k_c4_consumption", "1/day", "C4 consumption per unit immune complexes.")
    # inflammation and organs
    k_p = p("k_inflammation", "1/day", "Turnover of systemic inflammation.")
    a_px = p("inflammation_from_ic", "1", "Inflammation per unit immune complexes.")
    a_ps = p("inflammation_from_th17", "1", "Inflammation per Th17 above healthy (relative).")
    a_pk = p("inflammation_from_kidney", "1", "Inflammation fed back by renal activity.")
    p_max = p("inflammation_max", "1", "Saturation level of systemic inflammation.")
    k_dep = p("k_renal_deposition", "1/day", "Glomerular IC deposition.")
    k_irc = p("k_renal_deposit_clearance", "1/day", "Clearance of glomerular deposits.")
    k_k = p("k_renal_injury", "1/day", "Renal injury per unit deposits × inflammation.")
    d_k = p("k_renal_resolution", "1/day", "Resolution rate of renal activity.")
    k_cr = p("k_renal_fibrosis", "1/day", "Chronic damage accrual per unit renal activity.")
    k_sk = p("k_skin", "1/day", "Skin activity turnover.")
    a_sk = p("skin_from_inflammation", "1", "Skin activity per unit inflammation.")
    k_j = p("k_joint", "1/day", "Joint activity turnover.")
    a_j = p("joint_from_inflammation", "1", "Joint activity per unit inflammation.")
    k_n = p("k_cns", "1/day", "CNS activity turnover.")
    a_n = p("cns_from_inflammation", "1", "CNS activity per unit inflammation.")
    # blood
    k_l = p("k_lymphocyte", "1/day", "Lymphocyte turnover.")
    l_base = p("lymphocytes_normal", "1e9/L", "Normal blood lymphocytes.")
    a_lpr = p("lymphoproliferation", "1", "Lymphocyte expansion at full autoreactive burden.")
    a_la = p("lymphopenia_from_antibody", "1", "Antibody-mediated lymphopenia per ref anti-dsDNA.")
    k_ne = p("k_neutrophil", "1/day", "Neutrophil turnover.")
    ne_base = p("neutrophils_normal", "1e9/L", "Normal blood neutrophils.")
    mono = p("monocytes_other_wbc", "1e9/L", "Monocytes and other leukocytes (constant).")
    k_pl = p("k_platelet", "1/day", "Platelet turnover.")
    pl_base = p("platelets_normal", "1e9/L", "Normal platelets.")
    a_pla = p("thrombocytopenia_from_antibody", "1", "Immune platelet loss per ref anti-dsDNA.")
    # bone
    k_bv = p("k_bone_remodelling", "1/day", "Trabecular bone remodelling rate.")
    bv_n = p("bone_bv_tv_normal", "%", "Trabecular BV/TV with healthy MSC.")
    a_bvp = p("bone_resorption_from_inflammation", "1", "Resorption per unit inflammation.")
    a_bvg = p("bone_resorption_from_glucocorticoid", "1", "Resorption at full GC effect.")
    # drugs
    k_ec = p("k_cyclophosphamide_effect_decay", "1/day", "Decay of cytotoxic exposure.")
    k_f = p("k_flare_drive_decay", "1/day", "Decay of an extrinsic flare burst.")
    k_bc = p("cyclophosphamide_b_kill", "1/day", "B/plasma kill per reference dose exposure.")
    k_tc = p("cyclophosphamide_t_kill", "1/day", "T-cell (Th17, Treg) kill per exposure.")
    k_lc = p("cyclophosphamide_lymphocyte_kill", "1/day", "Lymphocyte kill per exposure.")
    k_nc = p("cyclophosphamide_neutrophil_kill", "1/day", "Neutrophil kill per exposure.")
    k_plc = p("cyclophosphamide_platelet_kill", "1/day", "Platelet kill per exposure.")
    k_eg = p("k_glucocorticoid_effect", "1/day", "Equilibration of GC effect with dose.")
    K_gc = p("glucocorticoid_half_effect", "mg/day", "Prednisone dose giving half GC effect.")
    e_gc = p("glucocorticoid_anti_inflammatory", "1", "Maximal GC suppression of inflammation.")
    e_gck = p(
        "glucocorticoid_renal_protection", "1", "Maximal direct GC suppression of renal injury."
    )
    e_gcl = p("glucocorticoid_lymphopenia", "1", "Maximal GC reduction of lymphocytes.")
    e_gcn = p("glucocorticoid_neutrophilia", "1", "Maximal GC rise of neutrophils.")
    k_em = p("k_antimetabolite_effect", "1/day", "Equilibration of MMF/AZA effect.")
    mmf_ref = p("mycophenolate_full_dose", "g/day", "MMF dose counted as one full dose.")
    auc_per_g = p("mpa_auc_per_g_day", "mg*h/L", "MPA AUC0-12 per g/day of MMF (typical).")
    mpa_rel = p("mpa_exposure", "1", "Subject's dose-normalised MPA AUC relative to typical.")
    auc_half = p("mpa_auc_half_effect", "mg*h/L", "MPA AUC0-12 giving half-maximal effect.")
    adherence = p("oral_adherence", "1", "Fraction of prescribed oral MMF/AZA taken.")
    aza_ref = p("azathioprine_full_dose", "mg/kg/day", "AZA dose counted as one full dose.")
    k_bm = p("antimetabolite_b_kill", "1/day", "B/plasma suppression at full MMF/AZA.")
    k_tm = p("antimetabolite_t_kill", "1/day", "T-cell suppression at full MMF/AZA.")
    k_lm = p("antimetabolite_lymphocyte_kill", "1/day", "Lymphocyte loss at full MMF/AZA.")
    # kidney observation
    gfr_n = p("gfr_normal", "mL/min/1.73m2", "GFR of a healthy kidney (subject-specific).")
    phi_k = p("gfr_loss_activity_max", "1", "Maximal reversible GFR loss from activity.")
    K_kg = p("gfr_loss_activity_half", "1", "Renal activity giving half the reversible loss.")
    # hazards
    h_d0 = p("hazard_death_background", "1/day", "Background mortality.")
    h_dr = p("hazard_death_kidney", "1/day", "Kidney-failure mortality at end-stage (GFR → 0).")
    f_dh = p("gfr_fraction_death_half", "1", "GFR fraction at which kidney mortality is half.")
    p_fat = p("infection_case_fatality", "1", "Probability a serious infection is fatal.")
    h_i0 = p("hazard_infection_baseline", "1/day", "Serious-infection hazard, untreated.")
    hr_gc = p("infection_hr_glucocorticoid", "1", "Infection HR for glucocorticoid use.")
    hr_is = p("infection_hr_immunosuppressant", "1", "Infection HR for other IS use.")
    hr_hcq = p("infection_hr_hydroxychloroquine", "1", "Infection HR for HCQ use.")
    hr_lym = p("infection_hr_lymphopenia", "1", "Infection HR for lymphocytes < 0.8e9/L.")
    hr_neu = p("infection_hr_neutropenia", "1", "Infection HR for neutrophils < 1e9/L.")
    hr_act = p("infection_hr_renal_activity", "1", "Infection HR per unit renal activity.")

    # ------------------------------------------------------------- algebra
    sigma = _emax(Mp, K_msc)  # donor-MSC signal, 0-1
    gc = _emax(Eg, K_gc)  # glucocorticoid effect, 0-1
    gc_suppress = 1 / (1 + e_gc * gc)
    # Restraint of lymphocyte activation by host MSC and Treg, relative to health
    # (host MSC function 1, Treg at its healthy level): 1 in health, > 1 when impaired.
    relative_activation = (1 + c_h + c_r) / (1 + c_h * H + c_r * R / r_base)
    help_signal = w_bs * S / s_base + w_bx * X
    # Hill-4 activation: a sharp threshold gives a stable tolerant state in health and
    # bistability with hysteresis in disease (Arazi & Neumann 2010).
    b_activation = v_b * help_signal**4 / (K_b**4 + help_signal**4)
    gfr_fraction = (1 - Cr) * (1 - phi_k * K / (K + K_kg))

    # ------------------------------------------------------------- rates
    m.rate(H, _relax(k_h, h_int, H) + k_hrep * sigma * (1 - H) - k_h17 * (S / s_base - 1) * H)
    m.rate(M, -k_lung * M)
    m.rate(Mp, -k_lung * Mp)
    m.rate(G, k_g * sigma - d_g * G)
    treg_target = r_base * (1 - w_rh + w_rh * H) * (1 + a_rg * G) / (1 + a_rp * P)
    m.rate(R, _relax(k_r, treg_target, R) - k_tc * Ec * R)
    th17_target = s_base * (1 + a_sp * P) * relative_activation * gc_suppress
    m.rate(S, _relax(k_s, th17_target, S) - (k_apop * sigma + k_tc * Ec + k_tm * Em) * S)
    m.rate(
        B,
        (s_b + b_activation + F) * relative_activation * gc_suppress * (1 - B)
        - d_b * (1 + a_bg * G) * B
        - (k_bc * Ec + k_bm * Em) * B,
    )
    m.rate(A, _relax(k_a, a_base + a_gain * B, A))
    m.rate(X, k_x * A / a_ref - k_xc * X * (x_c0 + C3 / c3n))
    m.rate(C3, _relax(k_c3, c3n, C3) - k_c3x * X * C3)
    m.rate(C4, _relax(k_c4, c4n, C4) - k_c4x * X * C4)
    # Th17 above its healthy level, as a smooth positive part (keeps inflammation ≥ 0).
    th17_excess = (S / s_base - 1 + sp.sqrt((S / s_base - 1) ** 2 + sp.Rational(1, 100))) / 2
    infl_drive = (a_px * X + a_ps * th17_excess + a_pk * K) * gc_suppress
    m.rate(P, _relax(k_p, infl_drive / (1 + infl_drive / p_max), P))
    m.rate(Ir, k_dep * X - k_irc * Ir)
    m.rate(K, k_k * Ir * P / (1 + e_gck * gc) - d_k * K)
    m.rate(Cr, k_cr * K * (1 - Cr))
    m.rate(Sk, _relax(k_sk, a_sk * P * gc_suppress, Sk))
    m.rate(J, _relax(k_j, a_j * P * gc_suppress, J))
    m.rate(N, _relax(k_n, a_n * P * gc_suppress, N))
    lymph_target = l_base * (1 + a_lpr * B) / (1 + a_la * A / a_ref) / (1 + e_gcl * gc)
    m.rate(L, _relax(k_l, lymph_target, L) - (k_lc * Ec + k_lm * Em) * L)
    m.rate(Ne, _relax(k_ne, ne_base * (1 + e_gcn * gc), Ne) - k_nc * Ec * Ne)
    m.rate(Pl, _relax(k_pl, pl_base / (1 + a_pla * A / a_ref), Pl) - k_plc * Ec * Pl)
    bone_target = bv_n * H / (1 + a_bvp * P + a_bvg * gc)
    m.rate(BV, _relax(k_bv, bone_target, BV))
    m.rate(Ec, -k_ec * Ec)
    # Flare triggers (lupusim.treatments.FlareTrigger) add to F; the burst activates
    # autoreactive B cells like T help does, restrained by host MSC, Treg and
    # glucocorticoids and cleared under cytotoxic and antimetabolite drugs — so a renal
    # flare follows through autoantibodies, immune complexes and deposits, weeks later.
    m.rate(F, -k_f * F)
    m.rate(Eg, _relax(k_eg, u_pred, Eg))
    # Mycophenolate acts through MPA exposure (AUC0-12) with a saturating Emax, in units
    # of the effect of the full dose in a typical patient; adherence scales what is taken.
    mpa_auc = auc_per_g * mpa_rel * adherence * u_mmf
    mmf_units = _emax(mpa_auc, auc_half) / _emax(auc_per_g * mmf_ref, auc_half)
    m.rate(Em, _relax(k_em, mmf_units + adherence * u_aza / aza_ref, Em))
    infection_hazard = (
        h_i0
        * hr_gc ** _emax(Eg, sp.Integer(1))
        * hr_is ** _emax(Em, sp.Rational(1, 20))
        * hr_hcq ** _emax(u_hcq, sp.Integer(10))
        * hr_lym ** (1 / (1 + (L / sp.Rational(8, 10)) ** 4))
        * hr_neu ** (1 / (1 + Ne**4))
        * hr_act**K
    )
    # Structural assumption: kidney mortality switches on steeply (Hill 8) as the GFR
    # fraction falls below gfr_fraction_death_half (end-stage kidney disease).
    kidney_hazard = h_dr / (1 + (gfr_fraction / f_dh) ** 8)
    m.rate(Hd, h_d0 + kidney_hazard + p_fat * infection_hazard)
    m.rate(Hi, infection_hazard)
    m.rate(Gc, u_pred / 1000)

    # ------------------------------------------------------------- observables
    age_years = age0 + t / sp.Float(365.25)
    m.observable("host_msc_function", "1", "Host MSC function (0–1).", H)
    m.observable("donor_msc_cells", "cells", "Viable donor MSC in the body (lung).", M * weight)
    m.observable("treg_pct_cd4", "% CD4", "Treg, % of CD4 T cells.", R)
    m.observable("th17_pct_cd4", "% CD4", "Th17, % of CD4 T cells.", S)
    # The assay sees the anti-dsDNA part of the autoantibody response; immune complexes
    # form from all of it (nephritis without anti-dsDNA is nephritis all the same).
    m.observable("anti_dsdna_iu_ml", "IU/mL", "Anti-dsDNA.", a_base + a_frac * (A - a_base))
    m.observable("c3_g_l", "g/L", "Complement C3.", C3)
    m.observable("c4_g_l", "g/L", "Complement C4.", C4)
    m.observable("lymphocytes_1e9_l", "1e9/L", "Lymphocytes.", L)
    m.observable("wbc_1e9_l", "1e9/L", "White blood cells.", L + Ne + mono)
    m.observable("platelets_1e9_l", "1e9/L", "Platelets.", Pl)
    m.observable("bone_bv_tv_pct", "%", "Trabecular bone volume fraction.", BV)
    m.observable("prednisone_mg_day", "mg/day", "Prednisone-equivalent dose.", u_pred)
    m.observable("renal_activity", "1", "Reversible renal activity.", K)
    m.observable("renal_chronic", "1", "Chronic kidney damage (fraction).", Cr)
    m.observable("skin_activity", "1", "Mucocutaneous activity.", Sk)
    m.observable("joint_activity", "1", "Joint activity.", J)
    m.observable("cns_activity", "1", "Neuropsychiatric activity.", N)
    m.observable("inflammation", "1", "Systemic inflammation.", P)
    m.observable(
        "gfr_fraction", "1", "Kidney function relative to the subject's healthy GFR.", gfr_fraction
    )
    m.observable("cum_hazard_death", "1", "Cumulative hazard of death.", Hd)
    m.observable("cum_hazard_infection", "1", "Cumulative serious-infection hazard.", Hi)
    m.observable("cumulative_prednisone_g", "g", "Cumulative prednisone-equivalent.", Gc)

    urine_rbc_max = p("urine_rbc_max_per_hpf", "/HPF", "Urine RBC at full renal activity.")
    urine_wbc_max = p("urine_wbc_max_per_hpf", "/HPF", "Urine WBC at full renal activity.")
    m.observable(
        "urine_rbc_per_hpf", "/HPF", "Urine red cells.", 1 + urine_rbc_max * _emax(K, sp.Integer(1))
    )
    m.observable(
        "urine_wbc_per_hpf",
        "/HPF",
        "Urine white cells.",
        1 + urine_wbc_max * _emax(K, sp.Integer(1)),
    )

    if species == "human":
        upcr_n = p("upcr_normal", "g/g", "UPCR of a healthy kidney.")
        upcr_k = p("upcr_per_renal_activity", "g/g", "UPCR per unit renal activity.")
        upcr_c = p("upcr_per_chronic_damage", "g/g", "UPCR per unit chronic damage.")
        cr_excr = p("creatinine_excretion_g_day", "g/day", "Daily urinary creatinine.")
        alb_n = p("albumin_normal", "g/L", "Normal serum albumin.")
        alb_drop = p("albumin_loss_max", "1", "Maximal fractional albumin loss (nephrotic).")
        alb_half = p("albumin_loss_half_upcr", "g/g", "UPCR giving half the albumin loss.")
        upcr = upcr_n + upcr_k * K + upcr_c * Cr
        gfr = gfr_n * gfr_fraction
        # Serum creatinine from GFR by inverting CKD-EPI 2021 (Inker 2021), so that the
        # creatinine-based eGFR of a virtual patient equals the model's GFR.
        kappa = sp.Float(0.7) * female + sp.Float(0.9) * (1 - female)
        alpha = sp.Float(-0.241) * female + sp.Float(-0.302) * (1 - female)
        q = gfr / (142 * sp.Float(0.9938) ** age_years * (1 + sp.Float(0.012) * female))
        creatinine = sp.Piecewise(
            (kappa * q ** (-1 / sp.Float(1.2)), q <= 1), (kappa * q ** (1 / alpha), True)
        )
        m.observable("upcr_g_per_g", "g/g", "Urine protein:creatinine ratio.", upcr)
        m.observable("protein_24h_g", "g/day", "24-h urine protein.", upcr * cr_excr)
        m.observable("egfr_ml_min_1_73m2", "mL/min/1.73m2", "GFR (= CKD-EPI 2021 eGFR).", gfr)
        m.observable("creatinine_mg_dl", "mg/dL", "Serum creatinine.", creatinine)
        m.observable(
            "albumin_g_l", "g/L", "Serum albumin.", alb_n * (1 - alb_drop * _emax(upcr, alb_half))
        )
    else:
        acr_n = p("urine_acr_normal", "mg/g", "Urine albumin:creatinine of a healthy mouse.")
        acr_k = p("urine_acr_per_renal_activity", "mg/g", "Urine ACR per unit renal activity.")
        acr_c = p("urine_acr_per_chronic_damage", "mg/g", "Urine ACR per unit chronic damage.")
        creat_n = p("creatinine_normal", "mg/dL", "Serum creatinine of a healthy mouse.")
        m.observable(
            "urine_acr_mg_g",
            "mg/g",
            "Urine albumin:creatinine ratio.",
            acr_n + acr_k * K + acr_c * Cr,
        )
        m.observable(
            "creatinine_mg_dl", "mg/dL", "Serum creatinine (∝ 1/GFR).", creat_n / gfr_fraction
        )
        m.observable("gfr_pct_normal", "%", "GFR as % of a healthy kidney.", 100 * gfr_fraction)
    _ = gfr_n  # declared for both species (mouse value is informational)
    return m.build()
