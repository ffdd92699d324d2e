//! Salt's batch mode (`salt -b`, Salt 3007.15's `salt/cli/batch.py`) as a state machine
//! without I/O or a clock: a rolling window of at most `size` minions running a job.
//!
//! The caller's loop, the same in the `brine` CLI and in the master's orchestration:
//! call [`Batch::next`] and publish the job to the minions it hands out; feed returns to
//! [`Batch::returned`]; with a probe window ([`Batch::with_probe`]) ask the minions
//! [`Batch::probe`] hands out whether they still run the job (`saltutil.find_job`) and
//! report the busy ones to [`Batch::extend`]; collect [`Batch::expire`]'s failures; sleep
//! until [`Batch::deadline`] or the next return; stop when [`Batch::done`]. Every entry
//! point takes `now`, so the window is tested in virtual time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

/// A batch size as `-b` takes it: a number of minions, or a percentage of the targeted ones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Size {
    /// At most this many minions at a time (`-b 10`).
    Count(usize),
    /// At most this share of the minions at a time (`-b 25%`), in percent.
    Percent(f64),
}

/// A batch size that is neither a whole number nor a percentage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchError {
    /// The value as given.
    pub value: String,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // get_bnum's own words, which salt prints.
        write!(
            f,
            "Invalid batch data sent: {}\nData must be in the form of %10, 10% or 3",
            self.value
        )
    }
}

impl std::error::Error for BatchError {}

impl Size {
    /// Parses `10`, `25%` (or `%25`, as Salt strips `%` from both ends); Salt's error otherwise.
    pub fn parse(s: &str) -> Result<Size, BatchError> {
        let bad = || BatchError {
            value: s.to_string(),
        };
        if s.contains('%') {
            // get_bnum: float(s.strip("%")); Python's float() ignores surrounding blanks.
            let p: f64 = s.trim_matches('%').trim().parse().map_err(|_| bad())?;
            // Salt would crash on inf and loop forever on a window of 0 or less: refused.
            if !p.is_finite() || p < 0.0 {
                return Err(bad());
            }
            Ok(Size::Percent(p))
        } else {
            // int(s), which takes a sign; a negative window would never start a minion.
            let n: i64 = s.trim().parse().map_err(|_| bad())?;
            usize::try_from(n).map(Size::Count).map_err(|_| bad())
        }
    }

    /// The window for `total` targeted minions, rounded as get_bnum does, at least 1.
    pub fn of(&self, total: usize) -> usize {
        let n = match *self {
            Size::Count(n) => n,
            Size::Percent(p) => {
                // Python's float(x) / 100.0 * len, in that order: 29% of 100 is
                // 28.999999999999996, hence 28, as in Salt.
                let res = p / 100.0 * total as f64;
                // Below one minion it rounds up (a small share still runs one), else down.
                let n = if res < 1.0 { res.ceil() } else { res.floor() };
                n as usize
            }
        };
        // Salt's loop would never start a minion with a window of 0.
        n.max(1)
    }
}

/// Where a started minion is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Running, with no answer yet; its timeout runs.
    Running,
    /// Its timeout passed and it is being asked whether it still runs the job; the
    /// deadline is the end of the probe window.
    Probed,
}

/// A started minion that has neither returned nor failed.
#[derive(Clone, Copy, Debug)]
struct Started {
    phase: Phase,
    deadline: Instant,
}

/// A rolling window over a job's minions: at most `size` run at once, the next starts when
/// one returns or fails (after `batch_wait`), and one that does not return within
/// `timeout` fails ("did not return").
#[derive(Clone, Debug)]
pub struct Batch {
    /// Minions not started yet, in start order.
    to_run: VecDeque<String>,
    /// Started minions still out, by id (which orders expiry deterministically).
    running: BTreeMap<String, Started>,
    /// When each slot that batch_wait holds opens again; such a slot counts as busy.
    held: Vec<Instant>,
    size: usize,
    batch_wait: Duration,
    timeout: Duration,
    /// How long a minion past its timeout gets to say it still runs the job; `None`
    /// fails it at its timeout.
    probe_window: Option<Duration>,
    returned: Vec<String>,
    failed: Vec<String>,
}

impl Batch {
    /// A batch over `minions` (started in this order, duplicates dropped) with a window of
    /// `size.of(minions)`; `batch_wait` zero frees a slot at once.
    pub fn new(
        minions: Vec<String>,
        size: &Size,
        batch_wait: Duration,
        timeout: Duration,
    ) -> Batch {
        let mut seen = BTreeSet::new();
        let to_run: VecDeque<String> = minions
            .into_iter()
            .filter(|m| seen.insert(m.clone()))
            .collect();
        Batch {
            size: size.of(to_run.len()),
            to_run,
            running: BTreeMap::new(),
            held: Vec::new(),
            batch_wait,
            timeout,
            probe_window: None,
            returned: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// The same batch, where a minion past its timeout is first handed out by
    /// [`Batch::probe`] and fails only if nobody extends it within `window` (Salt's
    /// find_job check with `gather_job_timeout`).
    pub fn with_probe(mut self, window: Duration) -> Batch {
        self.probe_window = Some(window);
        self
    }

    /// The window: how many minions may run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Minions to start now (empty when the window is full or batch_wait holds slots).
    pub fn next(&mut self, now: Instant) -> Vec<String> {
        self.held.retain(|t| *t > now);
        let free = self
            .size
            .saturating_sub(self.running.len() + self.held.len());
        let n = free.min(self.to_run.len());
        let started: Vec<String> = self.to_run.drain(..n).collect();
        let deadline = crate::clock::later(now, self.timeout);
        for m in &started {
            let s = Started {
                phase: Phase::Running,
                deadline,
            };
            self.running.insert(m.clone(), s);
        }
        started
    }

    /// A minion returned (ignored if not running).
    pub fn returned(&mut self, id: &str, now: Instant) {
        if self.running.remove(id).is_some() {
            self.returned.push(id.to_string());
            self.hold_slot(now);
        }
    }

    /// Minions whose timeout passed, to ask whether they still run the job (only with a
    /// probe window): each fails at the window's end unless [`Batch::extend`] is called.
    pub fn probe(&mut self, now: Instant) -> Vec<String> {
        let Some(window) = self.probe_window else {
            return Vec::new();
        };
        let mut due = Vec::new();
        for (id, s) in self.running.iter_mut() {
            if s.phase == Phase::Running && s.deadline <= now {
                s.phase = Phase::Probed;
                s.deadline = crate::clock::later(now, window);
                due.push(id.clone());
            }
        }
        due
    }

    /// A probe found the minion still running the job: its timeout starts again from `now`
    /// (ignored if not running).
    pub fn extend(&mut self, id: &str, now: Instant) {
        if let Some(s) = self.running.get_mut(id) {
            s.phase = Phase::Running;
            s.deadline = crate::clock::later(now, self.timeout);
        }
    }

    /// Minions whose timeout passed since they were started: they count as failed ("did
    /// not return"). With a probe window, those whose probe window passed.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let probing = self.probe_window.is_some();
        let gone: Vec<String> = self
            .running
            .iter()
            .filter(|(_, s)| s.deadline <= now && (!probing || s.phase == Phase::Probed))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            self.running.remove(id);
            self.failed.push(id.clone());
            // Salt frees an unanswered minion's slot as it frees a returned one's.
            self.hold_slot(now);
        }
        gone
    }

    /// When the caller must wake next (a running minion's deadline or a batch_wait slot
    /// opening), if any.
    pub fn deadline(&self) -> Option<Instant> {
        let out = self.running.values().map(|s| s.deadline);
        // A slot opening matters only while a minion waits for it.
        let slots = self
            .held
            .iter()
            .copied()
            .filter(|_| !self.to_run.is_empty());
        out.chain(slots).min()
    }

    /// Every minion started and returned or expired.
    pub fn done(&self) -> bool {
        self.to_run.is_empty() && self.running.is_empty()
    }

    /// True while `id` has been started and has neither returned nor failed.
    pub fn is_running(&self, id: &str) -> bool {
        self.running.contains_key(id)
    }

    /// The minions that returned, in the order they did.
    pub fn returned_ids(&self) -> &[String] {
        &self.returned
    }

    /// The minions that did not return, in the order they failed.
    pub fn failed(&self) -> &[String] {
        &self.failed
    }

    /// batch_wait keeps a finished minion's slot busy for a while (Salt's `wait` list).
    fn hold_slot(&mut self, now: Instant) {
        if !self.batch_wait.is_zero() {
            self.held.push(crate::clock::later(now, self.batch_wait));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sizes_parse_as_get_bnum_reads_them() {
        assert_eq!(Size::parse("10"), Ok(Size::Count(10)));
        assert_eq!(Size::parse(" 3 "), Ok(Size::Count(3)));
        assert_eq!(Size::parse("+2"), Ok(Size::Count(2)));
        assert_eq!(Size::parse("0"), Ok(Size::Count(0)));
        assert_eq!(Size::parse("25%"), Ok(Size::Percent(25.0)));
        assert_eq!(Size::parse("%10"), Ok(Size::Percent(10.0)));
        assert_eq!(Size::parse("10%%"), Ok(Size::Percent(10.0)));
        assert_eq!(Size::parse("12.5%"), Ok(Size::Percent(12.5)));
        for bad in [
            "", "abc", "10.5", "1%0", "10 % ", "-1", "-10%", "inf%", "nan%", "%",
        ] {
            let e = Size::parse(bad).expect_err(bad);
            assert_eq!(
                e.to_string(),
                format!(
                    "Invalid batch data sent: {bad}\nData must be in the form of %10, 10% or 3"
                )
            );
        }
    }

    #[test]
    fn percentages_round_as_get_bnum_does() {
        let p = |x: f64, n: usize| Size::Percent(x).of(n);
        assert_eq!(p(50.0, 3), 1); // 1.5 rounds down
        assert_eq!(p(50.0, 4), 2);
        assert_eq!(p(10.0, 3), 1); // 0.3 rounds up
        assert_eq!(p(99.0, 3), 2);
        assert_eq!(p(100.0, 3), 3);
        assert_eq!(p(200.0, 3), 6);
        assert_eq!(p(29.0, 100), 28); // Python's float arithmetic: 28.999999999999996
        assert_eq!(p(0.0, 5), 1);
        assert_eq!(p(50.0, 0), 1);
        assert_eq!(Size::Count(0).of(5), 1);
        assert_eq!(Size::Count(7).of(5), 7);
    }

    #[test]
    fn a_window_of_one_runs_minions_one_at_a_time_in_order() {
        let t0 = Instant::now();
        let mut b = Batch::new(
            ids(&["a", "b", "c", "a"]),
            &Size::Count(1),
            Duration::ZERO,
            5 * S,
        );
        assert_eq!(b.size(), 1);
        assert_eq!(b.next(t0), ids(&["a"]));
        assert!(b.next(t0).is_empty(), "the window is full");
        assert_eq!(b.deadline(), Some(t0 + 5 * S));
        b.returned("b", t0); // not running: ignored
        assert!(b.next(t0).is_empty());
        b.returned("a", t0 + S);
        b.returned("a", t0 + S); // twice: ignored
        assert_eq!(b.next(t0 + S), ids(&["b"]));
        assert_eq!(b.deadline(), Some(t0 + 6 * S), "b's own timeout");
        b.returned("b", t0 + 2 * S);
        assert_eq!(b.next(t0 + 2 * S), ids(&["c"]));
        assert!(!b.done());
        b.returned("c", t0 + 3 * S);
        assert!(b.next(t0 + 3 * S).is_empty());
        assert!(b.done());
        assert_eq!(b.deadline(), None);
        assert_eq!(b.returned_ids(), ids(&["a", "b", "c"]));
        assert!(b.failed().is_empty());
    }

    #[test]
    fn the_window_rolls_a_slot_at_a_time() {
        let t0 = Instant::now();
        let five = ids(&["m1", "m2", "m3", "m4", "m5"]);
        let mut b = Batch::new(five, &Size::Percent(40.0), Duration::ZERO, 5 * S);
        assert_eq!(b.size(), 2);
        assert_eq!(b.next(t0), ids(&["m1", "m2"]));
        // One returns: exactly one more starts, without waiting for the other.
        b.returned("m2", t0 + S);
        assert_eq!(b.next(t0 + S), ids(&["m3"]));
        b.returned("m1", t0 + S);
        b.returned("m3", t0 + S);
        assert_eq!(b.next(t0 + S), ids(&["m4", "m5"]));
        b.returned("m4", t0 + S);
        b.returned("m5", t0 + S);
        assert!(b.done());
    }

    #[test]
    fn a_minion_that_does_not_return_fails_at_its_timeout_and_frees_its_slot() {
        let t0 = Instant::now();
        let mut b = Batch::new(
            ids(&["a", "b", "c"]),
            &Size::Count(2),
            Duration::ZERO,
            5 * S,
        );
        assert_eq!(b.next(t0), ids(&["a", "b"]));
        b.returned("a", t0 + S);
        assert_eq!(b.next(t0 + S), ids(&["c"]));
        assert!(b.expire(t0 + 4 * S).is_empty(), "b is not late yet");
        assert_eq!(b.deadline(), Some(t0 + 5 * S));
        assert_eq!(b.expire(t0 + 5 * S), ids(&["b"]));
        assert!(!b.is_running("b"));
        b.returned("b", t0 + 5 * S); // a late return of a failed minion: ignored
        assert_eq!(b.failed(), ids(&["b"]));
        assert_eq!(b.deadline(), Some(t0 + 6 * S), "c's timeout");
        assert_eq!(b.expire(t0 + 6 * S), ids(&["c"]));
        assert!(b.done());
        assert_eq!(b.returned_ids(), ids(&["a"]));
        assert_eq!(b.failed(), ids(&["b", "c"]));
    }

    #[test]
    fn an_expired_minion_lets_the_next_one_start() {
        let t0 = Instant::now();
        let mut b = Batch::new(ids(&["a", "b"]), &Size::Count(1), Duration::ZERO, 2 * S);
        assert_eq!(b.next(t0), ids(&["a"]));
        assert_eq!(b.expire(t0 + 2 * S), ids(&["a"]));
        assert_eq!(b.next(t0 + 2 * S), ids(&["b"]));
        assert_eq!(
            b.deadline(),
            Some(t0 + 4 * S),
            "b's timeout counts from its start"
        );
    }

    #[test]
    fn batch_wait_holds_a_freed_slot_before_the_next_minion_starts() {
        let t0 = Instant::now();
        let mut b = Batch::new(ids(&["a", "b", "c"]), &Size::Count(2), 3 * S, 10 * S);
        assert_eq!(b.next(t0), ids(&["a", "b"]));
        b.returned("a", t0 + S);
        assert!(b.next(t0 + S).is_empty(), "a's slot is held");
        assert_eq!(b.deadline(), Some(t0 + 4 * S), "the slot opens at 1 + 3 s");
        assert!(b.next(t0 + 4 * S - Duration::from_millis(1)).is_empty());
        assert_eq!(b.next(t0 + 4 * S), ids(&["c"]));
        // Nothing waits for a slot any more: only the running minions' timeouts matter.
        b.returned("b", t0 + 5 * S);
        assert_eq!(b.deadline(), Some(t0 + 14 * S));
        b.returned("c", t0 + 6 * S);
        assert!(b.done());
        assert_eq!(b.deadline(), None);
    }

    #[test]
    fn batch_wait_also_holds_the_slot_of_a_minion_that_failed() {
        let t0 = Instant::now();
        let mut b = Batch::new(ids(&["a", "b"]), &Size::Count(1), 2 * S, 5 * S);
        b.next(t0);
        assert_eq!(b.expire(t0 + 5 * S), ids(&["a"]));
        assert!(b.next(t0 + 5 * S).is_empty());
        assert_eq!(b.deadline(), Some(t0 + 7 * S));
        assert_eq!(b.next(t0 + 7 * S), ids(&["b"]));
    }

    #[test]
    fn with_a_probe_a_late_minion_is_asked_first_and_a_busy_one_kept() {
        let t0 = Instant::now();
        let mut b = Batch::new(
            ids(&["a", "b", "c"]),
            &Size::Count(2),
            Duration::ZERO,
            5 * S,
        )
        .with_probe(2 * S);
        assert_eq!(b.next(t0), ids(&["a", "b"]));
        assert!(b.expire(t0 + 5 * S).is_empty(), "nobody was asked yet");
        assert_eq!(b.probe(t0 + 5 * S), ids(&["a", "b"]));
        assert!(b.probe(t0 + 5 * S).is_empty(), "asked once");
        assert_eq!(b.deadline(), Some(t0 + 7 * S), "the probe window's end");
        // a still runs the job: its timeout starts again; b says nothing and fails.
        b.extend("a", t0 + 6 * S);
        assert_eq!(b.expire(t0 + 7 * S), ids(&["b"]));
        assert_eq!(b.next(t0 + 7 * S), ids(&["c"]));
        assert_eq!(b.deadline(), Some(t0 + 11 * S), "a's new timeout");
        // A minion being probed may still return.
        assert_eq!(b.probe(t0 + 11 * S), ids(&["a"]));
        b.returned("a", t0 + 12 * S);
        b.returned("c", t0 + 12 * S);
        assert!(b.done());
        assert_eq!(b.failed(), ids(&["b"]));
    }

    #[test]
    fn no_minions_is_done_at_once() {
        let mut b = Batch::new(Vec::new(), &Size::Percent(50.0), S, S);
        assert!(b.next(Instant::now()).is_empty());
        assert!(b.done());
        assert_eq!(b.deadline(), None);
    }
}
