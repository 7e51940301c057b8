//! Optimizers and schedules from experiment tables.
//!
//! An optimizer table is laid over the descent-optim config's own defaults (PyTorch's), as
//! JSON: a key the config does not have is an unknown field, a value of the wrong JSON type a
//! type error, both named; the config's `validate` then checks the ranges. So every field of
//! every optimizer is available in experiment files without a second list of them here.

use std::sync::Arc;

use anyhow::Result;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, Optimizer};
use burn::record::{BinBytesRecorder, DoublePrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use descent_data::rng::{Purpose, derived_seed};
use descent_optim::clip::Clipping;
use descent_optim::optim::*;
use descent_optim::sam::{Sam, SamConfig};
use descent_optim::schedule::{
    ConstantLrConfig, CosineAnnealingLrConfig, CosineAnnealingWarmRestartsConfig, CyclicLrConfig,
    ExponentialLrConfig, InverseSqrtLrConfig, LinearLrConfig, MultiStepLrConfig, OneCycleLrConfig,
    PlateauMode, PolynomialLrConfig, ReduceLrOnPlateau, ReduceLrOnPlateauConfig, Schedule,
    ScheduleConfig, StepLrConfig, WarmupStableDecayConfig,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use toml::Table;

use crate::config::Variant;
use crate::metric::Metric;

/// Schedule fields that the variant's `lr` sets.
const LR_KEYS: [&str; 2] = ["initial_lr", "max_lr"];

/// `user` (a TOML table, `kind` excluded) laid over `default`'s serialised fields.
fn overlay<C: Serialize + DeserializeOwned>(
    default: &C,
    user: &Table,
    field: &str,
    skip: &[&str],
) -> std::result::Result<C, String> {
    let Ok(Json::Object(mut fields)) = serde_json::to_value(default) else {
        return Err(format!("{field}: internal error: config is not a table"));
    };
    let mut given = serde_json::Map::new();
    for (key, value) in user {
        if key == "kind" || skip.contains(&key.as_str()) {
            continue;
        }
        let value = serde_json::to_value(value).map_err(|e| format!("{field}.{key}: {e}"))?;
        given.insert(key.clone(), value);
    }
    merge(&mut fields, given, field, skip)?;
    serde_json::from_value(Json::Object(fields)).map_err(|e| format!("{field}: {e}"))
}

/// Puts each of `given`'s fields over the default's, checking that it exists and has the
/// default's type; a nested table (Muon's `fallback`) is merged field by field the same way.
fn merge(
    fields: &mut serde_json::Map<String, Json>,
    given: serde_json::Map<String, Json>,
    field: &str,
    skip: &[&str],
) -> std::result::Result<(), String> {
    for (key, given) in given {
        let Some(slot) = fields.get_mut(&key) else {
            let mut allowed: Vec<&str> = fields.keys().map(String::as_str).collect();
            allowed.retain(|k| !skip.contains(k));
            return Err(format!(
                "{field}.{key}: unknown field; allowed: {}",
                allowed.join(", ")
            ));
        };
        let whole = |v: &Json| v.is_u64() || v.is_i64();
        if whole(slot) && !whole(&given) {
            return Err(format!("{field}.{key} = {given}: expected a whole number"));
        }
        if slot.is_u64() && given.is_i64() && !given.is_u64() {
            return Err(format!(
                "{field}.{key} = {given}: expected a whole number >= 0"
            ));
        }
        if let (Json::Object(inner), Json::Object(given_inner)) = (&mut *slot, &given) {
            merge(inner, given_inner.clone(), &format!("{field}.{key}"), &[])?;
            continue;
        }
        let fits = matches!(
            (&*slot, &given),
            (Json::Number(_), Json::Number(_))
                | (Json::Bool(_), Json::Bool(_))
                | (Json::String(_), Json::String(_))
                | (Json::Array(_), Json::Array(_))
                | (Json::Null, _)
        );
        if !fits {
            return Err(format!(
                "{field}.{key} = {given}: expected {}",
                kind_of(slot)
            ));
        }
        *slot = given;
    }
    Ok(())
}

fn kind_of(value: &Json) -> &'static str {
    match value {
        Json::Number(_) => "a number",
        Json::Bool(_) => "true or false",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        _ => "a table",
    }
}

fn kind<'a>(
    table: &'a Table,
    field: &str,
    allowed: &[&str],
) -> std::result::Result<&'a str, String> {
    match table.get("kind") {
        Some(toml::Value::String(k)) if allowed.contains(&k.as_str()) => Ok(k),
        Some(toml::Value::String(k)) => Err(format!(
            "{field}.kind = {k:?} is not known; allowed: {}",
            allowed.join(", ")
        )),
        _ => Err(format!(
            "{field}.kind is missing; allowed: {}",
            allowed.join(", ")
        )),
    }
}

/// The first of its expressions: the registry's optional entries (`gradient_at`, `eval_at`,
/// a lookahead variant) ahead of the default every other optimizer takes.
macro_rules! first {
    ($first:expr $(, $rest:expr)* $(,)?) => {
        $first
    };
}

/// The optimizer registry: one line per optimizer kind, `Variant [| LookaheadVariant] =>
/// "kind", Config, Optimizer, |seed| its default config [, gradient_at f] [, eval_at f]`,
/// where `gradient_at` and `eval_at` name the point at which an optimizer that does not take
/// its gradient or its evaluation at the module itself does (Nesterov's look-ahead form,
/// Schedule-Free, ASGD). The kinds experiment files accept,
/// the enums and their dispatch all come from this list; a kind with a `| LookaheadVariant`
/// can also be the `inner` of `kind = "lookahead"` (kinds that take their gradient or their
/// evaluation elsewhere, Nesterov's look-ahead form and Schedule-Free, cannot).
macro_rules! any_optimizer {
    ($( $variant:ident $(| $lookahead:ident)? => $kind:literal, $config:ident, $opt:ty, |$seed:ident| $default:expr
        $(, gradient_at $gradient_at:path)? $(, eval_at $eval_at:path)? );* $(;)?) => {
        /// The optimizer kinds an experiment can name.
        pub const OPTIMIZERS: &[&str] = &[$($kind,)* "lookahead", "sam"];

        /// The kinds `lookahead` can wrap.
        pub const LOOKAHEAD_INNER: &[&str] = &[$($( { stringify!($lookahead); $kind }, )?)*];

        /// Any optimizer, on module `M`: enum dispatch keeps the step a direct call.
        #[allow(clippy::large_enum_variant)]
        pub enum AnyOptimizer<M: AutodiffModule<B>, B: AutodiffBackend> {
            $(
                #[doc = concat!("`", $kind, "`")]
                $variant(OptimizerAdaptor<$opt, M, B>),
                $(
                    #[doc = concat!("`lookahead` around `", $kind, "`")]
                    $lookahead(OptimizerAdaptor<Lookahead<$opt>, M, B>),
                )?
            )*
        }

        /// A checked optimizer config, ready to build for any module and backend.
        #[derive(Debug, Clone)]
        pub enum OptimizerConfig {
            $(
                #[doc = concat!("`", $kind, "`")]
                $variant($config),
                $(
                    #[doc = concat!("`lookahead` around `", $kind, "`")]
                    $lookahead(LookaheadConfig, $config),
                )?
            )*
        }

        impl OptimizerConfig {
            /// Parses and checks `variants.<name>.optimizer`; `seed` seeds noisy optimizers.
            pub fn parse(table: &Table, field: &str, seed: u64) -> std::result::Result<Self, String> {
                let kind = kind(table, field, OPTIMIZERS)?;
                let config = match kind {
                    "lookahead" => Self::lookahead(table, field, seed)?,
                    // SAM changes where the gradient is taken, not the optimizer: the inner
                    // optimizer is the one stepped (see `sharpness_aware`).
                    "sam" => Self::parse(sam_inner(table, field)?, &format!("{field}.inner"), seed)?,
                    $(
                        $kind => {
                            let $seed = seed;
                            let default: $config = $default;
                            OptimizerConfig::$variant(overlay(&default, table, field, &[])?)
                        }
                    )*
                    _ => unreachable_kind(kind)?,
                };
                config.validate().map_err(|e| format!("{field}: {e}"))?;
                Ok(config)
            }

            /// `kind = "lookahead"`: its `k` and `alpha`, and the `inner` optimizer's table.
            fn lookahead(table: &Table, field: &str, seed: u64) -> std::result::Result<Self, String> {
                let lookahead: LookaheadConfig =
                    overlay(&LookaheadConfig::new(), table, field, &["inner"])?;
                let inner_field = format!("{field}.inner");
                let Some(toml::Value::Table(inner)) = table.get("inner") else {
                    return Err(format!(
                        "{inner_field} is missing: the optimizer lookahead wraps, e.g. \
                         inner = {{ kind = \"sgd\" }}; allowed kinds: {}",
                        LOOKAHEAD_INNER.join(", ")
                    ));
                };
                let inner_kind = kind(inner, &inner_field, OPTIMIZERS)?;
                if !LOOKAHEAD_INNER.contains(&inner_kind) {
                    return Err(format!(
                        "{inner_field}.kind = {inner_kind:?} cannot be wrapped by lookahead; \
                         allowed: {}",
                        LOOKAHEAD_INNER.join(", ")
                    ));
                }
                let refused = || Err(format!("{inner_field}: cannot be wrapped by lookahead"));
                match Self::parse(inner, &inner_field, seed)? {
                    $(
                        OptimizerConfig::$variant(_c) => {
                            first!($( Ok(OptimizerConfig::$lookahead(lookahead, _c)), )? refused())
                        }
                        $( OptimizerConfig::$lookahead(..) => refused(), )?
                    )*
                }
            }

            fn validate(&self) -> std::result::Result<(), descent_optim::OptimError> {
                match self {
                    $(
                        OptimizerConfig::$variant(c) => c.validate(),
                        $( OptimizerConfig::$lookahead(l, c) => l.validate().and_then(|()| c.validate()), )?
                    )*
                }
            }

            /// The optimizer for module type `M` on backend `B`.
            pub fn init<M: AutodiffModule<B>, B: AutodiffBackend>(&self) -> Result<AnyOptimizer<M, B>> {
                Ok(match self {
                    $(
                        OptimizerConfig::$variant(c) => AnyOptimizer::$variant(c.init()?),
                        $( OptimizerConfig::$lookahead(l, c) => AnyOptimizer::$lookahead(l.init(c.build()?)?), )?
                    )*
                })
            }
        }

        impl<M: AutodiffModule<B>, B: AutodiffBackend> AnyOptimizer<M, B> {
            /// One step with learning rate `lr`.
            pub fn step(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
                match self {
                    $(
                        AnyOptimizer::$variant(o) => o.step(lr, module, grads),
                        $( AnyOptimizer::$lookahead(o) => o.step(lr, module, grads), )?
                    )*
                }
            }

            /// The state, serialised (f64 precision, so f64 runs resume bit for bit).
            pub fn save(&self) -> Result<Vec<u8>> {
                let recorder = BinBytesRecorder::<DoublePrecisionSettings>::default();
                Ok(match self {
                    $(
                        AnyOptimizer::$variant(o) => recorder.record(o.to_record(), ())?,
                        $( AnyOptimizer::$lookahead(o) => recorder.record(o.to_record(), ())?, )?
                    )*
                })
            }

            /// The module at which this step's gradient is taken: the look-ahead point for
            /// `nesterov_lookahead` (`gradient_at` in the registry), the module itself for every
            /// other optimizer.
            pub fn gradient_point(&self, module: M, _lr: f64) -> M {
                match self {
                    $(
                        AnyOptimizer::$variant(_o) => first!($( $gradient_at(module, _o, _lr), )? module),
                        $( AnyOptimizer::$lookahead(_) => module, )?
                    )*
                }
            }

            /// The module at which the model is evaluated (`eval_at` in the registry): a
            /// Schedule-Free optimizer's averaged point `x`, ASGD's running average; the module
            /// itself for every other optimizer.
            pub fn eval_point(&self, module: M) -> M {
                match self {
                    $(
                        AnyOptimizer::$variant(_o) => first!($( $eval_at(module, _o), )? module),
                        $( AnyOptimizer::$lookahead(_) => module, )?
                    )*
                }
            }

            /// Restores the state [`save`](Self::save) produced.
            pub fn load(self, bytes: Vec<u8>, device: &B::Device) -> Result<Self> {
                let recorder = BinBytesRecorder::<DoublePrecisionSettings>::default();
                Ok(match self {
                    $(
                        AnyOptimizer::$variant(o) => {
                            let record = recorder.load(bytes, device)?;
                            AnyOptimizer::$variant(o.load_record(record))
                        }
                        $( AnyOptimizer::$lookahead(o) => {
                            let record = recorder.load(bytes, device)?;
                            AnyOptimizer::$lookahead(o.load_record(record))
                        } )?
                    )*
                })
            }
        }
    };
}

fn unreachable_kind<T>(kind: &str) -> std::result::Result<T, String> {
    Err(format!("optimizer kind {kind:?} is not known"))
}

// Defaults are PyTorch's (each config's `new()`); noisy GD's noise is keyed by the run's
// seed through the seed tree, so it shares no numbers with the weights or batch order.
any_optimizer! {
    Sgd | LookaheadSgd => "sgd", SgdConfig, Sgd, |_seed| SgdConfig::new();
    NesterovLookahead => "nesterov_lookahead", NesterovLookaheadConfig, NesterovLookahead,
        |_seed| NesterovLookaheadConfig::new(), gradient_at nesterov_lookahead_point;
    Adam | LookaheadAdam => "adam", AdamConfig, Adam, |_seed| AdamConfig::new();
    AdamW | LookaheadAdamW => "adamw", AdamWConfig, AdamW, |_seed| AdamWConfig::new();
    NAdam | LookaheadNAdam => "nadam", NAdamConfig, NAdam, |_seed| NAdamConfig::new();
    RAdam | LookaheadRAdam => "radam", RAdamConfig, RAdam, |_seed| RAdamConfig::new();
    Adamax | LookaheadAdamax => "adamax", AdamaxConfig, Adamax, |_seed| AdamaxConfig::new();
    Rprop | LookaheadRprop => "rprop", RpropConfig, Rprop, |_seed| RpropConfig::new();
    Asgd => "asgd", AsgdConfig, Asgd, |_seed| AsgdConfig::new(), eval_at asgd_average;
    AdaBelief | LookaheadAdaBelief => "adabelief", AdaBeliefConfig, AdaBelief, |_seed| AdaBeliefConfig::new();
    Yogi | LookaheadYogi => "yogi", YogiConfig, Yogi, |_seed| YogiConfig::new();
    Signum | LookaheadSignum => "signum", SignumConfig, Signum, |_seed| SignumConfig::new();
    Lamb | LookaheadLamb => "lamb", LambConfig, Lamb, |_seed| LambConfig::new();
    Adan | LookaheadAdan => "adan", AdanConfig, Adan, |_seed| AdanConfig::new();
    Lars | LookaheadLars => "lars", LarsConfig, Lars, |_seed| LarsConfig::new();
    RmsProp | LookaheadRmsProp => "rmsprop", RmsPropConfig, RmsProp, |_seed| RmsPropConfig::new();
    Adagrad | LookaheadAdagrad => "adagrad", AdagradConfig, Adagrad, |_seed| AdagradConfig::new();
    Adadelta | LookaheadAdadelta => "adadelta", AdadeltaConfig, Adadelta, |_seed| AdadeltaConfig::new();
    Lion | LookaheadLion => "lion", LionConfig, Lion, |_seed| LionConfig::new();
    Adafactor | LookaheadAdafactor => "adafactor", AdafactorConfig, Adafactor, |_seed| AdafactorConfig::new();
    Muon | LookaheadMuon => "muon", MuonConfig, Muon, |_seed| MuonConfig::new();
    ScheduleFreeSgd => "schedule_free_sgd", ScheduleFreeSgdConfig, ScheduleFreeSgd, |_seed| ScheduleFreeSgdConfig::new(),
        eval_at schedule_free_eval;
    ScheduleFreeAdamW => "schedule_free_adamw", ScheduleFreeAdamWConfig, ScheduleFreeAdamW, |_seed| ScheduleFreeAdamWConfig::new(),
        eval_at schedule_free_eval;
    NoisyGd | LookaheadNoisyGd => "noisy_gd", NoisyGdConfig, NoisyGd, |seed| NoisyGdConfig::new(0.0).with_seed(derived_seed(seed, Purpose::OptimizerNoise, 0));
}

/// A variant's learning rate as a pure function of the step (or, for `plateau`, driven by
/// a metric), and its clipping.
#[derive(Debug, Clone)]
pub struct LrPlan {
    schedule: Arc<dyn Schedule>,
    /// `kind = "plateau"`: the rate follows this, stepped at every evaluation.
    pub plateau: Option<Plateau>,
    /// Gradient clipping, if any.
    pub clipping: Option<Clipping>,
}

/// PyTorch's `ReduceLROnPlateau` on one metric of the evaluations.
#[derive(Debug, Clone)]
pub struct Plateau {
    /// The scheduler, with its state.
    pub schedule: ReduceLrOnPlateau,
    /// The metric it watches (default `val_loss`); its direction sets `mode`.
    pub metric: Metric,
}

fn plateau(table: &Table, field: &str, variant: &Variant) -> std::result::Result<Plateau, String> {
    if variant.warmup.unwrap_or(0) > 0 {
        return Err(format!(
            "{field}: a plateau schedule takes no warmup (it starts at lr and only lowers it)"
        ));
    }
    if let Some(k) = ["initial_lr", "mode"]
        .iter()
        .find(|k| table.contains_key(**k))
    {
        return Err(format!(
            "{field}.{k}: set by the runner (the variant's lr; the metric's direction)"
        ));
    }
    let metric = match table.get("metric") {
        None => Metric::ValLoss,
        Some(toml::Value::String(name)) => {
            serde_json::from_value(serde_json::Value::String(name.clone())).map_err(|_| {
                format!(
                    "{field}.metric = {name:?} is not known; allowed: {}",
                    Metric::ALL.map(Metric::name).join(", ")
                )
            })?
        }
        Some(other) => return Err(format!("{field}.metric = {other}: expected a metric name")),
    };
    if !matches!(
        metric,
        Metric::ValLoss | Metric::ValAccuracy | Metric::TestLoss | Metric::TestAccuracy
    ) {
        return Err(format!(
            "{field}.metric = {metric}: a plateau schedule watches an evaluation metric (val_loss, \
             val_accuracy, test_loss, test_accuracy)"
        ));
    }
    let mode = if metric.higher_is_better() {
        PlateauMode::Max
    } else {
        PlateauMode::Min
    };
    let default = ReduceLrOnPlateauConfig::new(variant.lr).with_mode(mode);
    let config: ReduceLrOnPlateauConfig =
        overlay(&default, table, field, &["metric", "initial_lr", "mode"])?;
    let schedule = config.build().map_err(|e| format!("{field}: {e}"))?;
    Ok(Plateau { schedule, metric })
}

impl LrPlan {
    /// The learning rate of step `step` (from 0).
    pub fn lr(&self, step: u64) -> f64 {
        self.schedule.lr(step as usize)
    }
}

/// The learning-rate plan of `variant` for a run of `total_steps` steps (when known).
pub fn lr_plan(variant: &Variant, total_steps: Option<u64>) -> std::result::Result<LrPlan, String> {
    let field = format!("variants.{}.schedule", variant.name);
    let plateau = match &variant.schedule {
        Some(table) if table.get("kind").and_then(toml::Value::as_str) == Some("plateau") => {
            Some(plateau(table, &field, variant)?)
        }
        _ => None,
    };
    // After a warm-up the schedule restarts at its milestone: its default length is the rest.
    let warmup = variant.warmup.unwrap_or(0);
    let after_warmup = total_steps.map(|t| t.saturating_sub(warmup).max(1));
    let main = match &variant.schedule {
        Some(table) if plateau.is_none() => {
            schedule_config(table, &field, variant.lr, after_warmup)?
        }
        _ => ScheduleConfig::Constant(ConstantLrConfig::plain(variant.lr)),
    };
    let config = match variant.warmup {
        None | Some(0) => main,
        Some(w) => {
            let w = w as usize;
            ScheduleConfig::Sequential {
                schedules: vec![
                    ScheduleConfig::Linear(
                        LinearLrConfig::new(variant.lr)
                            .with_start_factor(
                                variant.warmup_start_factor.unwrap_or(1.0 / w as f64),
                            )
                            .with_end_factor(1.0)
                            .with_total_iters(w),
                    ),
                    main,
                ],
                milestones: vec![w],
            }
        }
    };
    let schedule = config.build().map_err(|e| format!("{field}: {e}"))?;
    let clipping = match (variant.clip_norm, variant.clip_value) {
        (Some(n), _) => Some(Clipping::GlobalNorm(n)),
        (None, Some(v)) => Some(Clipping::Value(v)),
        (None, None) => None,
    };
    Ok(LrPlan {
        schedule: Arc::from(schedule),
        plateau,
        clipping,
    })
}

fn schedule_config(
    table: &Table,
    field: &str,
    lr: f64,
    total_steps: Option<u64>,
) -> std::result::Result<ScheduleConfig, String> {
    let kind = kind(table, field, SCHEDULES)?;
    // Lengths default to the whole run when the budget fixes it.
    let total = |key: &str| -> std::result::Result<usize, String> {
        match (table.get(key), total_steps) {
            (Some(_), _) => Ok(1), // overwritten by the user's value
            (None, Some(t)) => Ok(t as usize),
            (None, None) => Err(format!(
                "{field}.{key} is needed: the budget does not fix the number of steps"
            )),
        }
    };
    if let Some(k) = LR_KEYS.iter().find(|k| table.contains_key(**k)) {
        return Err(format!(
            "{field}.{k}: the learning rate is the variant's `lr`; set that instead"
        ));
    }
    if table.get("cycle_momentum").and_then(toml::Value::as_bool) == Some(true) {
        return Err(format!(
            "{field}.cycle_momentum = true is not supported by the runner (it would change \
             the optimizer's momentum every step); leave it out"
        ));
    }
    registered_schedule(kind, table, field, lr, &total)
}

/// The schedule registry: one line per schedule kind, `"kind" => ScheduleConfig variant,
/// [fields the user must give], |lr, total| its default config`, where `lr` is the variant's
/// learning rate and `total("field")` the rest of the run (for lengths the user leaves out).
/// The kinds experiment files accept and the dispatch come from this list.
macro_rules! any_schedule {
    ($( $kind:literal => $variant:ident, [$($required:literal),*], |$lr:ident, $total:ident| $default:expr );* $(;)?) => {
        /// The schedule kinds an experiment can name (`plateau` is driven by a metric, not
        /// the step).
        pub const SCHEDULES: &[&str] = &[$($kind,)* "plateau"];

        fn registered_schedule(
            kind: &str,
            table: &Table,
            field: &str,
            lr: f64,
            total: &dyn Fn(&str) -> std::result::Result<usize, String>,
        ) -> std::result::Result<ScheduleConfig, String> {
            match kind {
                $(
                    $kind => {
                        $(
                            if !table.contains_key($required) {
                                return Err(format!(
                                    "{field}.{} is required for a {kind} schedule",
                                    $required
                                ));
                            }
                        )*
                        let ($lr, $total) = (lr, total);
                        Ok(ScheduleConfig::$variant(overlay(&$default, table, field, &LR_KEYS)?))
                    }
                )*
                other => Err(format!("{field}.kind = {other:?} is not known")),
            }
        }
    };
}

// Cyclic and one-cycle leave the momentum alone: the runner's optimizers own theirs.
any_schedule! {
    "constant" => Constant, [], |lr, _total| ConstantLrConfig::new(lr);
    "step" => Step, ["step_size"], |lr, _total| StepLrConfig::new(lr, 1);
    "multistep" => MultiStep, ["milestones"], |lr, _total| MultiStepLrConfig::new(lr, vec![]);
    "exponential" => Exponential, ["gamma"], |lr, _total| ExponentialLrConfig::new(lr, 1.0);
    "cosine" => CosineAnnealing, [], |lr, total| CosineAnnealingLrConfig::new(lr, total("t_max")?);
    "warm_restarts" => CosineAnnealingWarmRestarts, ["t_0"],
        |lr, _total| CosineAnnealingWarmRestartsConfig::new(lr, 1);
    "linear" => Linear, [], |lr, _total| LinearLrConfig::new(lr);
    "polynomial" => Polynomial, [],
        |lr, total| PolynomialLrConfig::new(lr).with_total_iters(total("total_iters")?);
    "inverse_sqrt" => InverseSqrt, [], |lr, _total| InverseSqrtLrConfig::new(lr);
    "cyclic" => Cyclic, ["base_lr"],
        |lr, _total| CyclicLrConfig::new(lr / 10.0, lr).with_cycle_momentum(false);
    "one_cycle" => OneCycle, [],
        |lr, total| OneCycleLrConfig::new(lr, total("total_steps")?).with_cycle_momentum(false);
    "wsd" => WarmupStableDecay, ["stable_steps", "decay_steps"],
        |lr, _total| WarmupStableDecayConfig::new(lr, 0, 0);
}

/// `kind = "sam"`'s `inner` table, checked: any optimizer but another `sam` and
/// `nesterov_lookahead` (which takes its gradient at a look-ahead point of its own).
fn sam_inner<'t>(table: &'t Table, field: &str) -> std::result::Result<&'t Table, String> {
    let inner_field = format!("{field}.inner");
    let Some(toml::Value::Table(inner)) = table.get("inner") else {
        return Err(format!(
            "{inner_field} is missing: the optimizer SAM steps, e.g. inner = {{ kind = \"sgd\", \
             momentum = 0.9 }}"
        ));
    };
    match inner.get("kind").and_then(toml::Value::as_str) {
        Some(k @ ("sam" | "nesterov_lookahead")) => Err(format!(
            "{inner_field}.kind = {k:?} cannot be wrapped by sam (it takes its gradient elsewhere)"
        )),
        _ => Ok(inner),
    }
}

/// The variant's sharpness-aware minimisation (`optimizer = { kind = "sam", rho = 0.05,
/// inner = { ... } }`), if it asks for it: the loop then takes each step's gradient at the
/// ascent point `w + rho g / |g|`.
pub fn sharpness_aware(variant: &Variant) -> std::result::Result<Option<Sam>, String> {
    let field = format!("variants.{}.optimizer", variant.name);
    if variant.optimizer.get("kind").and_then(toml::Value::as_str) != Some("sam") {
        return Ok(None);
    }
    sam_inner(&variant.optimizer, &field)?;
    let config: SamConfig = overlay(&SamConfig::new(), &variant.optimizer, &field, &["inner"])?;
    config.init().map(Some).map_err(|e| format!("{field}: {e}"))
}

/// Reads a run's optimizer: used by `validate` and by the run itself.
pub fn optimizer_config(
    variant: &Variant,
    seed: u64,
) -> std::result::Result<OptimizerConfig, String> {
    // SAM's own fields are checked with the optimizer's, so bad ones stop the experiment
    // before any run starts.
    sharpness_aware(variant)?;
    OptimizerConfig::parse(
        &variant.optimizer,
        &format!("variants.{}.optimizer", variant.name),
        seed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(schedule: &str, warmup: Option<u64>) -> Variant {
        let optimizer: Table = "kind = \"sgd\"".parse().unwrap();
        let schedule: Table = schedule.parse().unwrap();
        Variant {
            name: "v".into(),
            lr: 0.1,
            optimizer,
            schedule: Some(schedule),
            warmup,
            clip_norm: None,
            clip_value: None,
            warmup_start_factor: None,
            batch: None,
            sweep: Default::default(),
            init_seed: None,
        }
    }

    #[test]
    fn a_schedule_after_warmup_spans_the_rest_of_the_run() {
        let plan = lr_plan(&variant("kind = \"cosine\"", Some(10)), Some(100)).unwrap();
        assert!((plan.lr(0) - 0.01).abs() < 1e-12, "{}", plan.lr(0));
        assert!((plan.lr(10) - 0.1).abs() < 1e-12, "{}", plan.lr(10));
        // Cosine over the 90 remaining steps: nearly at eta_min = 0 on the last one.
        assert!(plan.lr(99) < 1e-3 * 0.1, "{}", plan.lr(99));
        let plain = lr_plan(&variant("kind = \"cosine\"", None), Some(100)).unwrap();
        assert!(plain.lr(99) < 1e-3 * 0.1 && (plain.lr(0) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn a_warmup_starts_at_its_start_factor_and_climbs_linearly_to_lr() {
        let mut v = variant("kind = \"constant\"\nfactor = 1.0", Some(10));
        v.warmup_start_factor = Some(0.01);
        let plan = lr_plan(&v, Some(100)).unwrap();
        // PyTorch's LinearLR: factor 0.01 + (1 - 0.01) k / 10 at step k.
        for k in 0..10 {
            let expected = 0.1 * (0.01 + 0.99 * k as f64 / 10.0);
            assert!((plan.lr(k) - expected).abs() < 1e-15, "{k}: {}", plan.lr(k));
        }
        assert!((plan.lr(10) - 0.1).abs() < 1e-15 && (plan.lr(50) - 0.1).abs() < 1e-15);
    }

    #[test]
    fn optimizer_fields_are_checked_by_name_and_type() {
        let parse = |text: &str| {
            let table: Table = text.parse().unwrap();
            OptimizerConfig::parse(&table, "variants.v.optimizer", 0).map(|_| ())
        };
        assert!(parse("kind = \"adam\"\nbeta_2 = 0.99").is_ok());
        let unknown = parse("kind = \"sgd\"\nmomentun = 0.9").unwrap_err();
        assert!(unknown.contains("variants.v.optimizer.momentun") && unknown.contains("momentum"));
        let typed = parse("kind = \"sgd\"\nnesterov = 1").unwrap_err();
        assert!(
            typed.contains("nesterov") && typed.contains("true or false"),
            "{typed}"
        );
        let range = parse("kind = \"adam\"\nbeta_1 = 1.0").unwrap_err();
        assert!(range.contains("beta_1"), "{range}");
    }

    #[test]
    fn nested_optimizer_tables_merge_field_by_field() {
        let parse = |text: &str| {
            let table: Table = text.parse().unwrap();
            OptimizerConfig::parse(&table, "variants.v.optimizer", 0)
        };
        let muon = parse(
            "kind = \"muon\"\nlr_adjustment = \"MatchRmsAdamW\"\nfallback = { weight_decay = 0.0 }",
        )
        .unwrap();
        let OptimizerConfig::Muon(muon) = muon else {
            panic!("not muon")
        };
        assert_eq!(muon.lr_adjustment, MuonLrAdjustment::MatchRmsAdamW);
        // The fallback keeps AdamW's defaults where the table is silent.
        assert_eq!(
            (muon.fallback.weight_decay, muon.fallback.beta_2),
            (0.0, 0.999)
        );
        let unknown = parse("kind = \"muon\"\nfallback = { beta2 = 0.9 }").unwrap_err();
        assert!(
            unknown.contains("variants.v.optimizer.fallback.beta2") && unknown.contains("beta_2"),
            "{unknown}"
        );
        let range = parse("kind = \"muon\"\nfallback = { beta_1 = 1.0 }").unwrap_err();
        assert!(
            range.contains("AdamW") && range.contains("beta_1"),
            "{range}"
        );
        let OptimizerConfig::Adafactor(adafactor) =
            parse("kind = \"adafactor\"\nepsilon_1 = 1e-30").unwrap()
        else {
            panic!("not adafactor")
        };
        assert_eq!(adafactor.epsilon_1, Some(1e-30));
    }
}
