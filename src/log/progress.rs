//! Which reserved entries are written, which are durable, and group commit (SPEC §9.2).
//!
//! Appenders reserve sequence numbers in order under the log's lock, then sign and write outside
//! it, so writes complete out of order. `completed` is the length of the written prefix;
//! `durable` the length of the fsynced prefix. An appender that needs durability either finds a
//! flush already covering it, or becomes the one flusher, which fsyncs everything written so far
//! for all waiters at once: concurrent appenders share fsyncs.
//!
//! Waiters are woken one by one, and only when their entry is durable (or when one of them must
//! take over flushing): waking every waiter on every change costs more in context switches than
//! the appends themselves.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::Duration;

/// How long a flusher waits for entries already reserved, but not yet written, to join its group.
const GATHER: Duration = Duration::from_micros(200);

/// How a group commit makes entries durable. An error from either step poisons the log.
pub(crate) trait Flush {
    /// Makes every entry before `target` durable (every one of them is written).
    fn sync(&self, target: u64) -> Result<(), String>;
    /// Does what durability does not need (derived data) after a `sync` to `target`: run once
    /// the appenders that sync released are woken, and before the next flush starts.
    fn settle(&self, target: u64) -> Result<(), String>;
    /// Does what neither durability nor the next flush needs after a settled `sync` to
    /// `target`: run once the next flusher is free to start, beside it. No appender but the
    /// flusher's own waits for it, and nothing it does can fail an append.
    fn follow_up(&self, target: u64);
}

// Takes off `waiters` those whose entries are now durable, to be woken.
fn take_released(waiters: &mut Vec<(u64, u64, Thread)>, durable: u64) -> Vec<Thread> {
    let mut released = Vec::new();
    waiters.retain(|(wlen, _, t)| {
        if *wlen <= durable {
            released.push(t.clone());
            false
        } else {
            true
        }
    });
    released
}

#[derive(Debug, Default)]
struct State {
    completed: u64,
    early: BTreeSet<u64>,
    durable: u64,
    flushing: bool,
    // Appenders parked until `durable` reaches their length: (length, ticket, thread).
    waiters: Vec<(u64, u64, Thread)>,
    next_ticket: u64,
    completion_waiters: usize,
    // The smallest written length a thread waiting on `completion` waits for, if any: a
    // completion wakes them only once the written prefix reaches it, not at every entry.
    completion_wanted: Option<u64>,
    // How many times `completion` was notified on a completion, for the tests.
    #[cfg(test)]
    completion_notifies: u64,
    poisoned: Option<String>,
}

impl State {
    // Registers a wait on `completion` for entries `0..len` to be written. Every thread woken
    // looks again and registers again if it must wait on: a wake is never lost.
    fn want_completed(&mut self, len: u64) {
        self.completion_wanted = Some(self.completion_wanted.map_or(len, |w| w.min(len)));
    }

    // Keeps the first reason, raises the lock-free flag and wakes every parked appender.
    fn poison(&mut self, why: String, flag: &AtomicBool) {
        self.poisoned.get_or_insert(why);
        flag.store(true, Ordering::Release);
        for (_, _, t) in self.waiters.drain(..) {
            t.unpark();
        }
    }
}

// Appenders take the state's lock as few times as they can: with many appenders on few cores, a
// thread preempted while holding it stalls the others, and each stall costs context switches.
// What needs no lock is kept beside it: the reserved length (only read to size a group), the
// durable length (checked by a woken appender) and whether the log is poisoned (checked before
// every append).
#[derive(Debug, Default)]
pub(crate) struct Progress {
    state: Mutex<State>,
    completion: Condvar,
    reserved: AtomicU64,
    /// A copy of `State::durable`, written under the lock.
    durable: AtomicU64,
    poisoned: AtomicBool,
}

impl Progress {
    pub(crate) fn starting_at(len: u64) -> Progress {
        Progress {
            state: Mutex::new(State {
                completed: len,
                durable: len,
                ..State::default()
            }),
            completion: Condvar::new(),
            reserved: AtomicU64::new(len),
            durable: AtomicU64::new(len),
            poisoned: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent, so a poisoned mutex is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Entries `0..len` are reserved (some may still be being written).
    pub(crate) fn reserve(&self, len: u64) {
        self.reserved.fetch_max(len, Ordering::Relaxed);
    }

    /// Entries `0..len` are written.
    pub(crate) fn completed(&self) -> u64 {
        self.lock().completed
    }

    /// Entries `0..len` are durable.
    pub(crate) fn durable(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    pub(crate) fn poisoned(&self) -> Option<String> {
        if !self.poisoned.load(Ordering::Acquire) {
            return None;
        }
        self.lock().poisoned.clone()
    }

    /// Marks the log unusable after a failed write or flush: a reserved sequence number may now
    /// have no entry, and no later entry may be acknowledged.
    pub(crate) fn poison(&self, why: String) {
        let mut s = self.lock();
        s.poison(why, &self.poisoned);
        self.completion.notify_all();
    }

    /// Records that the entry at `seq` is written.
    pub(crate) fn complete(&self, seq: u64) {
        let mut s = self.lock();
        self.complete_locked(&mut s, seq, true);
    }

    /// Records that the entry at `seq` is written, then returns once entries `0..len` are
    /// durable, as [`Progress::wait_durable`] does: one lock acquisition for both.
    pub(crate) fn complete_and_wait_durable(
        &self,
        seq: u64,
        len: u64,
        flush: &dyn Flush,
    ) -> Result<(), String> {
        let mut s = self.lock();
        // No hand-off to a parked appender: this one flushes next if no one else is.
        self.complete_locked(&mut s, seq, false);
        self.wait_durable_locked(s, len, flush)
    }

    // With `hand_off`, a parked appender is woken to flush when the completed entry is one it
    // waits for and no flush is running.
    fn complete_locked(&self, s: &mut State, seq: u64, hand_off: bool) {
        if seq == s.completed {
            s.completed += 1;
            while s.early.first() == Some(&s.completed) {
                s.early.pop_first();
                s.completed += 1;
            }
            // A parked appender whose entry is now written needs a flusher. The appender that
            // completed this entry usually calls `wait_durable` next and flushes; if no flush is
            // running and none is about to start, hand the job to a parked one.
            if hand_off && !s.flushing && s.waiters.iter().any(|w| w.0 <= s.completed) {
                if let Some((_, _, t)) = s.waiters.first() {
                    t.unpark();
                }
            }
            // Threads waiting for written entries are woken once the first of them can go on:
            // a gathering flusher waits for a whole group, and a wake per entry cost the
            // appenders a context switch each.
            if s.completion_waiters > 0 && s.completion_wanted.is_some_and(|w| s.completed >= w) {
                s.completion_wanted = None;
                #[cfg(test)]
                {
                    s.completion_notifies += 1;
                }
                self.completion.notify_all();
            }
        } else {
            s.early.insert(seq);
        }
    }

    /// Waits until every entry before `len` is written, without flushing.
    pub(crate) fn wait_completed(&self, len: u64) -> Result<(), String> {
        let mut s = self.lock();
        loop {
            if let Some(p) = &s.poisoned {
                return Err(p.clone());
            }
            if s.completed >= len {
                return Ok(());
            }
            s.want_completed(len);
            s.completion_waiters += 1;
            s = self.completion.wait(s).unwrap_or_else(|p| p.into_inner());
            s.completion_waiters -= 1;
        }
    }

    /// Returns once entries `0..len` are durable, flushing with `flush` if no one else is.
    /// `flush` makes entries durable (see [`Flush`]).
    pub(crate) fn wait_durable(&self, len: u64, flush: &dyn Flush) -> Result<(), String> {
        self.wait_durable_locked(self.lock(), len, flush)
    }

    fn wait_durable_locked<'a>(
        &'a self,
        mut s: MutexGuard<'a, State>,
        len: u64,
        flush: &dyn Flush,
    ) -> Result<(), String> {
        loop {
            if s.durable >= len {
                return Ok(());
            }
            if let Some(p) = &s.poisoned {
                return Err(p.clone());
            }
            if !s.flushing && s.completed > s.durable {
                s.flushing = true;
                // Entries reserved but still being signed would each need a flush of their own
                // moments later: give them a short while to join this one.
                let reserved = self.reserved.load(Ordering::Relaxed);
                let deadline = std::time::Instant::now() + GATHER;
                while s.completed < reserved && s.poisoned.is_none() {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        break;
                    }
                    s.want_completed(reserved);
                    s.completion_waiters += 1;
                    s = self
                        .completion
                        .wait_timeout(s, deadline - now)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                    s.completion_waiters -= 1;
                }
                let target = s.completed;
                drop(s);
                let result = flush.sync(target);
                s = self.lock();
                if let Err(e) = result {
                    s.flushing = false;
                    s.poison(e, &self.poisoned);
                    continue;
                }
                s.durable = s.durable.max(target);
                self.durable.store(s.durable, Ordering::Release);
                let durable = s.durable;
                // Waking a thread is a system call: not with the lock held, which every
                // appender needs.
                let released = take_released(&mut s.waiters, durable);
                drop(s);
                for t in released {
                    t.unpark();
                }
                // What durability does not need runs while the appenders just released sign
                // their next entries, and before the next flush may start.
                let settled = flush.settle(target);
                let follow_up = settled.is_ok();
                s = self.lock();
                s.flushing = false;
                let next = match settled {
                    Err(e) => {
                        // The entries are durable; nothing after them may be acknowledged.
                        s.poison(e, &self.poisoned);
                        None
                    }
                    // The first one still waiting takes over flushing if there is written
                    // work to flush.
                    Ok(()) if s.completed > s.durable => s.waiters.first().map(|w| w.2.clone()),
                    Ok(()) => None,
                };
                drop(s);
                if let Some(t) = next {
                    t.unpark();
                }
                // What the next flush does not need runs beside it.
                if follow_up {
                    flush.follow_up(target);
                }
                // The flusher's own entry is almost always in what it flushed.
                if durable >= len {
                    return Ok(());
                }
                s = self.lock();
                continue;
            }
            let ticket = s.next_ticket;
            s.next_ticket += 1;
            s.waiters.push((len, ticket, std::thread::current()));
            drop(s);
            std::thread::park();
            // A flush that made this entry durable took it off the list: no lock needed.
            if self.durable.load(Ordering::Acquire) >= len {
                return Ok(());
            }
            s = self.lock();
            // Woken (or spuriously): leave the list if still on it, then look again.
            s.waiters.retain(|w| w.1 != ticket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Many appenders complete entries out of order and wait for durability. Every flush must
    // cover only written entries, and no appender may return before a flush that covers its
    // entry has finished.
    #[test]
    fn appenders_return_only_after_a_flush_that_covers_them() {
        const THREADS: usize = 8;
        const PER: u64 = 1_500;
        let progress = Progress::starting_at(0);
        let next = AtomicU64::new(0);
        let written: Vec<AtomicBool> = (0..THREADS as u64 * PER)
            .map(|_| AtomicBool::new(false))
            .collect();
        let flush = Checked {
            written: &written,
            flushed: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            settled: AtomicU64::new(0),
            settling: AtomicBool::new(false),
            followed: AtomicU64::new(0),
        };
        let flushed = &flush.flushed;
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (progress, next, written, flush) = (&progress, &next, &written, &flush);
                s.spawn(move || {
                    for i in 0..PER {
                        let seq = next.fetch_add(1, Ordering::SeqCst);
                        progress.reserve(seq + 1);
                        // Some entries take longer to write than a flusher waits for them.
                        match (t as u64 + i) % 50 {
                            0 => std::thread::sleep(GATHER * 2),
                            n if n % 7 == 0 => std::thread::yield_now(),
                            _ => {}
                        }
                        written[seq as usize].store(true, Ordering::SeqCst);
                        progress
                            .complete_and_wait_durable(seq, seq + 1, flush)
                            .unwrap();
                        let f = flushed.load(Ordering::SeqCst);
                        assert!(f > seq, "entry {seq} acknowledged, durable only to {f}");
                    }
                });
            }
        });
        assert_eq!(progress.completed(), THREADS as u64 * PER);
        // Group commit: far fewer flushes than entries.
        assert!(flush.flushes.load(Ordering::SeqCst) < THREADS as u64 * PER);
        // Every sync was settled, and followed up.
        assert_eq!(
            flush.settled.load(Ordering::SeqCst),
            flush.flushed.load(Ordering::SeqCst)
        );
        assert_eq!(
            flush.followed.load(Ordering::SeqCst),
            flush.flushed.load(Ordering::SeqCst)
        );
    }

    // A flush that checks it covers only written entries and never runs beside a settle.
    struct Checked<'a> {
        written: &'a [AtomicBool],
        flushed: AtomicU64,
        flushes: AtomicU64,
        settled: AtomicU64,
        settling: AtomicBool,
        followed: AtomicU64,
    }

    impl Flush for Checked<'_> {
        fn sync(&self, target: u64) -> Result<(), String> {
            // An error poisons the log, so every appender fails instead of waiting forever.
            let unwritten = (0..target).find(|&s| !self.written[s as usize].load(Ordering::SeqCst));
            if let Some(seq) = unwritten {
                return Err(format!("flush to {target} before entry {seq} was written"));
            }
            if self.settling.load(Ordering::SeqCst) {
                return Err(format!("flush to {target} beside a settle"));
            }
            std::thread::sleep(Duration::from_micros(50));
            self.flushes.fetch_add(1, Ordering::SeqCst);
            self.flushed.fetch_max(target, Ordering::SeqCst);
            Ok(())
        }

        fn settle(&self, target: u64) -> Result<(), String> {
            self.settling.store(true, Ordering::SeqCst);
            if self.flushed.load(Ordering::SeqCst) < target {
                return Err(format!("settle to {target} before its sync"));
            }
            std::thread::sleep(Duration::from_micros(20));
            self.settled.fetch_max(target, Ordering::SeqCst);
            self.settling.store(false, Ordering::SeqCst);
            Ok(())
        }

        fn follow_up(&self, target: u64) {
            // Only after its own settle.
            assert!(self.settled.load(Ordering::SeqCst) >= target);
            self.followed.fetch_max(target, Ordering::SeqCst);
        }
    }

    // The appenders a sync made durable return while its settle still runs, and no flush
    // starts before the settle ends; a settle that fails poisons the log after the flusher's
    // own durable entry is acknowledged.
    #[test]
    fn released_appenders_do_not_wait_for_the_settle_and_the_next_flush_does() {
        const PATIENCE: Duration = Duration::from_secs(20);
        struct Gated<'a> {
            progress: &'a Progress,
            syncs: AtomicU64,
            parked_returned: AtomicBool,
            settle_result: Result<(), String>,
            followed: AtomicU64,
        }
        impl Flush for Gated<'_> {
            fn sync(&self, _target: u64) -> Result<(), String> {
                // The first sync waits for the second appender to park behind it.
                if self.syncs.fetch_add(1, Ordering::SeqCst) == 0 {
                    let start = std::time::Instant::now();
                    while self.progress.lock().waiters.is_empty() {
                        if start.elapsed() > PATIENCE {
                            return Err("the appender never parked".into());
                        }
                        std::thread::yield_now();
                    }
                }
                Ok(())
            }
            fn settle(&self, target: u64) -> Result<(), String> {
                if target > 2 {
                    return Ok(());
                }
                // The appender released by this sync returns before the settle ends.
                let start = std::time::Instant::now();
                // (An error, not a panic: it poisons the log and so wakes every appender.)
                while !self.parked_returned.load(Ordering::SeqCst) {
                    if start.elapsed() > PATIENCE {
                        return Err("a released appender waited for the settle".into());
                    }
                    std::thread::yield_now();
                }
                // And a flush wanted meanwhile waits for the settle.
                self.progress.complete(2);
                let waiting = std::time::Instant::now();
                while self.progress.lock().waiters.is_empty() {
                    if waiting.elapsed() > PATIENCE {
                        return Err("no third appender".into());
                    }
                    std::thread::yield_now();
                }
                if self.syncs.load(Ordering::SeqCst) != 1 {
                    return Err("a sync beside a settle".into());
                }
                self.settle_result.clone()
            }
            fn follow_up(&self, _target: u64) {
                self.followed.fetch_add(1, Ordering::SeqCst);
            }
        }
        for settle_result in [Ok(()), Err("the index failed".to_string())] {
            let failing = settle_result.is_err();
            let progress = Progress::starting_at(0);
            let flush = Gated {
                progress: &progress,
                syncs: AtomicU64::new(0),
                parked_returned: AtomicBool::new(false),
                settle_result,
                followed: AtomicU64::new(0),
            };
            progress.reserve(3);
            progress.complete(0);
            std::thread::scope(|s| {
                let (progress, flush) = (&progress, &flush);
                let flusher = s.spawn(move || progress.complete_and_wait_durable(1, 2, flush));
                let parked = s.spawn(move || {
                    // Parks once the flusher's sync is running.
                    while !progress.lock().flushing {
                        std::thread::yield_now();
                    }
                    let r = progress.wait_durable(1, flush);
                    flush.parked_returned.store(true, Ordering::SeqCst);
                    r
                });
                let third = s.spawn(move || {
                    while !flush.parked_returned.load(Ordering::SeqCst) {
                        std::thread::yield_now();
                    }
                    progress.wait_durable(3, flush)
                });
                assert_eq!(flusher.join().unwrap(), Ok(()));
                assert_eq!(parked.join().unwrap(), Ok(()));
                let third = third.join().unwrap();
                if failing {
                    assert_eq!(third, Err("the index failed".to_string()));
                    // A settle that failed has no follow-up.
                    assert_eq!(flush.followed.load(Ordering::SeqCst), 0);
                } else {
                    assert_eq!(third, Ok(()));
                    assert_eq!(flush.syncs.load(Ordering::SeqCst), 2);
                    assert_eq!(flush.followed.load(Ordering::SeqCst), 2);
                }
            });
        }
    }

    // A thread waiting for entries to be written (a gathering flusher, a reader of the tip) is
    // woken once they are, not at every entry written before them.
    #[test]
    fn a_wait_for_written_entries_is_woken_once_they_are() {
        let progress = Progress::starting_at(0);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| progress.wait_completed(10));
            while progress.lock().completion_waiters == 0 {
                std::thread::yield_now();
            }
            for seq in 0..10 {
                progress.complete(seq);
            }
            waiter.join().unwrap().unwrap();
        });
        assert_eq!(progress.lock().completion_notifies, 1);
    }

    // A flush's follow-up runs once the next flusher is free to start, so that the next group
    // commit never waits for it; a settle that fails has no follow-up.
    #[test]
    fn the_next_flush_runs_beside_a_follow_up() {
        const PATIENCE: Duration = Duration::from_secs(10);
        struct Beside<'a> {
            progress: &'a Progress,
            syncs: AtomicU64,
            beside: AtomicBool,
            followed: AtomicU64,
        }
        impl Flush for Beside<'_> {
            fn sync(&self, _target: u64) -> Result<(), String> {
                // The first sync waits for the second appender to park behind it.
                if self.syncs.fetch_add(1, Ordering::SeqCst) == 0 {
                    let start = std::time::Instant::now();
                    while self.progress.lock().waiters.is_empty() {
                        if start.elapsed() > PATIENCE {
                            return Err("the appender never parked".into());
                        }
                        std::thread::yield_now();
                    }
                }
                Ok(())
            }
            fn settle(&self, _target: u64) -> Result<(), String> {
                Ok(())
            }
            fn follow_up(&self, target: u64) {
                self.followed.fetch_add(1, Ordering::SeqCst);
                if target != 1 {
                    return;
                }
                // The first flush's follow-up sees the second flush run.
                let start = std::time::Instant::now();
                while self.syncs.load(Ordering::SeqCst) < 2 {
                    if start.elapsed() > PATIENCE {
                        return;
                    }
                    std::thread::yield_now();
                }
                self.beside.store(true, Ordering::SeqCst);
            }
        }
        let progress = Progress::starting_at(0);
        let flush = Beside {
            progress: &progress,
            syncs: AtomicU64::new(0),
            beside: AtomicBool::new(false),
            followed: AtomicU64::new(0),
        };
        progress.reserve(1);
        std::thread::scope(|s| {
            let (progress, flush) = (&progress, &flush);
            let first = s.spawn(move || progress.complete_and_wait_durable(0, 1, flush));
            let second = s.spawn(move || {
                // Reserved and written once the first flush's sync is running, so it parks.
                while flush.syncs.load(Ordering::SeqCst) == 0 {
                    std::thread::yield_now();
                }
                progress.reserve(2);
                progress.complete_and_wait_durable(1, 2, flush)
            });
            assert_eq!(first.join().unwrap(), Ok(()));
            assert_eq!(second.join().unwrap(), Ok(()));
        });
        assert_eq!(flush.syncs.load(Ordering::SeqCst), 2);
        assert!(
            flush.beside.load(Ordering::SeqCst),
            "the next flush waited for the follow-up"
        );
        assert_eq!(flush.followed.load(Ordering::SeqCst), 2);
    }
}
