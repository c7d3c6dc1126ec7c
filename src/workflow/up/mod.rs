//! `up`: params -> render -> registry -> images -> deploy -> db-sync (-> clean-jobs) ->
//! verify, each step the same workflow as its own command, skipped when what it last
//! completed with has not changed (`up.json` in the state directory). One line per step
//! on stderr as it ends, a table of every step at the end.

mod cluster;
mod local;
mod verify;

use crate::params::ParamSet;
use crate::printer::{Printer, align};
use crate::render::RenderedFile;
use crate::settings::UpSettings;
use crate::state::StateDir;
use crate::up::record::{Record, StepRecord};
use crate::up::{Step, StepFailed};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a step did.
#[derive(Debug)]
enum Outcome {
    /// It changed something.
    Done(String),
    /// Its inputs and results were as the last run left them.
    UpToDate(String),
    /// Dry run: what it would do.
    Would(String),
}

/// One row of the summary.
#[derive(Debug, serde::Serialize)]
pub struct Row {
    #[serde(serialize_with = "step_name")]
    pub step: Step,
    /// `done`, `up to date`, `would run`, `skipped`, `failed` or `not run`.
    pub result: &'static str,
    /// Seconds, when the step ran.
    #[serde(rename = "seconds", serialize_with = "seconds")]
    pub time: Option<Duration>,
    pub detail: String,
}

fn step_name<S: serde::Serializer>(step: &Step, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(step.name())
}

fn seconds<S: serde::Serializer>(time: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => s.serialize_some(&t.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// What steps hand to later ones, and the record they update.
struct Run<'a> {
    settings: &'a UpSettings,
    printer: &'a Printer,
    state: StateDir,
    record: Record,
    params: Option<ParamSet>,
    /// The render of this run, kept in memory for a dry run's later steps.
    rendered: Option<Vec<RenderedFile>>,
}

/// Runs the selected steps; the table of every step is printed whether they succeed or
/// not.
pub fn run(
    settings: &UpSettings,
    printer: &Printer,
    print_table: &dyn Fn(&[Row]),
) -> anyhow::Result<()> {
    let selection = settings.selection;
    if selection.includes(Step::Render) {
        crate::workflow::render::check_output_apart(&settings.tree, &settings.cluster.manifests)?;
    }
    let state = settings.tree.params.state.clone();
    let record = Record::load(&state)?;
    let mut run = Run {
        settings,
        printer,
        state,
        record,
        params: None,
        rendered: None,
    };
    let interrupted = watch_interrupt();
    let mut rows = Vec::new();
    for step in Step::ALL {
        if !selection.includes(step) {
            rows.push(Row {
                step,
                result: "skipped",
                time: None,
                detail: not_selected(step, settings),
            });
            continue;
        }
        if interrupted.load(Ordering::SeqCst) {
            rows.push(Row {
                step,
                result: "not run",
                time: None,
                detail: "interrupted".into(),
            });
            print_table(&rows);
            return Err(stopped(step, "interrupted before this step".into()));
        }
        let started = Instant::now();
        match run.step(step) {
            Ok(result) => rows.push(finished(printer, step, result, started.elapsed())),
            Err(e) => {
                rows.push(Row {
                    step,
                    result: "failed",
                    time: Some(started.elapsed()),
                    detail: crate::report::one_line(e.as_ref()),
                });
                print_table(&rows);
                return Err(StepFailed {
                    step,
                    hint: continue_hint(step),
                    source: e,
                }
                .into());
            }
        }
    }
    print_table(&rows);
    let all_fresh = rows
        .iter()
        .all(|r| r.result != "done" && r.result != "would run");
    if settings.dry_run.is_on() {
        printer.status("Dry run", "nothing was changed");
    } else if all_fresh {
        printer.status("Up to date", "nothing needed doing");
    } else {
        printer.status(
            "Finished",
            format!("record in `{}`", Record::path(&run.state).display()),
        );
    }
    Ok(())
}

/// The line of a step that ended well, and its row of the summary.
fn finished(printer: &Printer, step: Step, result: Outcome, time: Duration) -> Row {
    let (label, detail) = match result {
        Outcome::Done(d) => ("done", d),
        Outcome::UpToDate(d) => ("up to date", d),
        Outcome::Would(d) => ("would run", d),
    };
    printer.status(
        &format!("{step}"),
        format!("{label}: {detail} ({:.1}s)", time.as_secs_f64()),
    );
    Row {
        step,
        result: label,
        time: Some(time),
        detail,
    }
}

impl Run<'_> {
    fn step(&mut self, step: Step) -> anyhow::Result<Outcome> {
        match step {
            Step::Params => self.params_step(),
            Step::Render => self.render_step(),
            Step::Registry => self.registry_step(),
            Step::Images => self.images_step(),
            Step::Deploy => self.deploy_step(),
            Step::DbSync => self.db_sync_step(),
            Step::CleanJobs => self.clean_jobs_step(),
            Step::Verify => self.verify_step(),
        }
    }

    /// Saves the record (not in a dry run): after every step, so a stop loses at most one.
    fn save(&mut self) -> anyhow::Result<()> {
        if !self.settings.dry_run.is_on() {
            self.record.save(&self.state)?;
        }
        Ok(())
    }

    /// Records that `step` completed with `inputs` (and `extra`'s objects, digests or
    /// cleaned pods), then saves the record.
    fn complete(
        &mut self,
        step: Step,
        inputs: String,
        detail: &str,
        extra: StepRecord,
    ) -> anyhow::Result<()> {
        let record = StepRecord {
            inputs,
            completed: crate::up::record::now(),
            detail: detail.to_string(),
            ..extra
        };
        self.record.complete(step, record);
        self.save()
    }

    /// Whether the record of `step` may be trusted for this run.
    fn may_skip(&self) -> bool {
        !self.settings.force
    }
}

fn continue_hint(step: Step) -> String {
    let alone = match step {
        Step::Params => "kube-openstack params show",
        Step::Render => "kube-openstack render",
        Step::Registry | Step::Deploy => "kube-openstack status",
        Step::Images => "kube-openstack images",
        Step::DbSync => "kube-openstack db-sync --all",
        Step::CleanJobs => "kube-openstack clean-jobs",
        Step::Verify => "kube-openstack verify",
    };
    format!(
        "once fixed, `kube-openstack up --from {step}` continues from this step (plain `kube-openstack up` also does: finished steps are not redone); `{alone}` runs or shows it alone"
    )
}

fn stopped(step: Step, why: String) -> anyhow::Error {
    StepFailed {
        step,
        hint: format!(
            "`kube-openstack up` continues from step `{step}`: finished steps are not redone"
        ),
        source: anyhow::anyhow!(why),
    }
    .into()
}

fn not_selected(step: Step, settings: &UpSettings) -> String {
    let selection = &settings.selection;
    if step == Step::CleanJobs && !selection.clean_jobs && selection.only.is_none() {
        "not asked for (`--clean-jobs`)".into()
    } else {
        "not selected".into()
    }
}

/// A flag set by Ctrl-C: `up` finishes the step it is in (steps that apply objects stop
/// starting new ones) and stops before the next.
fn watch_interrupt() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    crate::rt::block_on(async move {
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                set.store(true, Ordering::SeqCst);
            }
        });
    });
    flag
}

/// The summary as a table on stdout.
pub fn table(printer: &Printer, rows: &[Row]) {
    let mut table = String::from("STEP\tRESULT\tTIME\tDETAIL\n");
    for r in rows {
        let time = r
            .time
            .map_or("-".to_string(), |t| format!("{:.1}s", t.as_secs_f64()));
        table.push_str(&format!("{}\t{}\t{time}\t{}\n", r.step, r.result, r.detail));
    }
    printer.data(&align(&table));
}
