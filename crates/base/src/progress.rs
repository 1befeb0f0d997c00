//! How far a long operation has gone, for a progress bar on a terminal.
//!
//! The copy runs on rayon's threads, deep below the operations, which must
//! not print: so the copy only counts, in one process-wide meter (atomics,
//! next to nothing when nobody looks), and the operations name the phase
//! they are in ("instance 3: second pass, GitLab stopped"). A binary whose
//! stderr is a terminal starts a [`Bar`] that reads the meter a few times a
//! second, and prints a line for each phase that is over (what it counted,
//! how long it took), so that what a short phase did is seen even when it
//! ended between two looks; without a terminal nothing reads it and nothing
//! is shown.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The process-wide meter.
struct Meter {
    files: AtomicU64,
    bytes: AtomicU64,
    /// Bumped at each new phase, so that a rate restarts with it.
    generation: AtomicU64,
    phase: Mutex<String>,
    /// When the current phase began.
    since: Mutex<Option<Instant>>,
    /// Whether a [`Bar`] looks (then phases over are kept for it).
    watched: AtomicBool,
    /// Phases over, not yet shown, with how long they took.
    over: Mutex<Vec<(Reading, Duration)>>,
}

static METER: Meter = Meter {
    files: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
    generation: AtomicU64::new(0),
    phase: Mutex::new(String::new()),
    since: Mutex::new(None),
    watched: AtomicBool::new(false),
    over: Mutex::new(Vec::new()),
};

/// A new phase begins: its name, its counters at zero.
pub fn phase(name: impl Into<String>) {
    let mut phase = METER.phase.lock().unwrap_or_else(|e| e.into_inner());
    end_phase(&phase);
    *phase = name.into();
    METER.files.store(0, Ordering::Relaxed);
    METER.bytes.store(0, Ordering::Relaxed);
    METER.generation.fetch_add(1, Ordering::Relaxed);
}

/// Keeps the phase that ends for the bar (when one looks).
fn end_phase(phase: &str) {
    let now = Instant::now();
    let since = METER
        .since
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .replace(now);
    if phase.is_empty() || !METER.watched.load(Ordering::Relaxed) {
        return;
    }
    let reading = Reading {
        phase: phase.to_string(),
        generation: METER.generation.load(Ordering::Relaxed),
        files: METER.files.load(Ordering::Relaxed),
        bytes: METER.bytes.load(Ordering::Relaxed),
    };
    let took = since.map(|since| now - since).unwrap_or_default();
    METER
        .over
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((reading, took));
}

/// The phases over since the last call (taken).
fn take_over() -> Vec<(Reading, Duration)> {
    std::mem::take(&mut *METER.over.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Files and bytes done in the current phase (copied, linked or read).
pub fn count(files: u64, bytes: u64) {
    METER.files.fetch_add(files, Ordering::Relaxed);
    METER.bytes.fetch_add(bytes, Ordering::Relaxed);
}

/// What the meter says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The current phase's name.
    pub phase: String,
    /// Which phase (changes with each [`phase`]).
    pub generation: u64,
    /// Files done in it.
    pub files: u64,
    /// Bytes done in it.
    pub bytes: u64,
}

/// Reads the meter.
pub fn read() -> Reading {
    let phase = METER
        .phase
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Reading {
        phase,
        generation: METER.generation.load(Ordering::Relaxed),
        files: METER.files.load(Ordering::Relaxed),
        bytes: METER.bytes.load(Ordering::Relaxed),
    }
}

/// A spinner on stderr showing the meter: the phase, files, bytes and rate,
/// and the time spent in the phase. Shown only when stderr is a terminal.
pub struct Bar {
    running: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bar {
    /// Starts the spinner, if stderr is a terminal; otherwise a bar that shows nothing.
    pub fn start() -> Bar {
        let running = Arc::new(AtomicBool::new(true));
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return Bar {
                running,
                thread: None,
            };
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            None,
            indicatif::ProgressDrawTarget::stderr_with_hz(10),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .expect("a valid template"),
        );
        METER.watched.store(true, Ordering::Relaxed);
        let flag = running.clone();
        let thread = std::thread::spawn(move || {
            let mut generation = u64::MAX;
            let mut since = Instant::now();
            let show_over = |bar: &indicatif::ProgressBar| {
                for (reading, took) in take_over() {
                    // Phases that counted nothing and were quick say nothing worth a line.
                    if reading.files > 0 || took >= Duration::from_secs(1) {
                        bar.println(format!(
                            "✓ {} in {:.1} s",
                            describe(&reading, took),
                            took.as_secs_f64()
                        ));
                    }
                }
            };
            while flag.load(Ordering::Relaxed) {
                show_over(&bar);
                let reading = read();
                if reading.generation != generation {
                    generation = reading.generation;
                    since = Instant::now();
                    bar.reset_elapsed();
                }
                if !reading.phase.is_empty() {
                    bar.set_message(describe(&reading, since.elapsed()));
                }
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            // The phase running at the end is over too.
            {
                let mut phase = METER.phase.lock().unwrap_or_else(|e| e.into_inner());
                end_phase(&phase);
                phase.clear();
            }
            show_over(&bar);
            METER.watched.store(false, Ordering::Relaxed);
            bar.finish_and_clear();
        });
        Bar {
            running,
            thread: Some(thread),
        }
    }

    /// Takes the spinner off the terminal.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `phase: 1234 files, 56.7 MiB (12.3 MiB/s)`, or the phase alone before anything is counted.
pub fn describe(reading: &Reading, elapsed: Duration) -> String {
    if reading.files == 0 && reading.bytes == 0 {
        return reading.phase.clone();
    }
    let seconds = elapsed.as_secs_f64().max(0.001);
    format!(
        "{}: {} files, {} ({}/s)",
        reading.phase,
        reading.files,
        indicatif::HumanBytes(reading.bytes),
        indicatif::HumanBytes((reading.bytes as f64 / seconds) as u64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_reads_as_people_expect() {
        let reading = Reading {
            phase: "instance 3: first pass".into(),
            generation: 1,
            files: 1234,
            bytes: 10 * 1024 * 1024,
        };
        assert_eq!(
            describe(&reading, Duration::from_secs(2)),
            "instance 3: first pass: 1234 files, 10.00 MiB (5.00 MiB/s)"
        );
        let idle = Reading {
            files: 0,
            bytes: 0,
            ..reading
        };
        assert_eq!(describe(&idle, Duration::ZERO), "instance 3: first pass");
    }
}
