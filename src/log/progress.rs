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
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::Duration;

/// How long a flusher waits for entries already reserved, but not yet written, to join its group.
const GATHER: Duration = Duration::from_micros(200);

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
    reserved: u64,
    poisoned: Option<String>,
}

impl State {
    fn wake_all(&mut self) {
        for (_, _, t) in self.waiters.drain(..) {
            t.unpark();
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Progress {
    state: Mutex<State>,
    completion: Condvar,
}

impl Progress {
    pub(crate) fn starting_at(len: u64) -> Progress {
        Progress {
            state: Mutex::new(State {
                completed: len,
                durable: len,
                reserved: len,
                ..State::default()
            }),
            completion: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent, so a poisoned mutex is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Entries `0..len` are reserved (some may still be being written).
    pub(crate) fn reserve(&self, len: u64) {
        let mut s = self.lock();
        s.reserved = s.reserved.max(len);
    }

    /// Entries `0..len` are written.
    pub(crate) fn completed(&self) -> u64 {
        self.lock().completed
    }

    pub(crate) fn poisoned(&self) -> Option<String> {
        self.lock().poisoned.clone()
    }

    /// Marks the log unusable after a failed write or flush: a reserved sequence number may now
    /// have no entry, and no later entry may be acknowledged.
    pub(crate) fn poison(&self, why: String) {
        let mut s = self.lock();
        s.poisoned.get_or_insert(why);
        s.wake_all();
        self.completion.notify_all();
    }

    /// Records that the entry at `seq` is written.
    pub(crate) fn complete(&self, seq: u64) {
        let mut s = self.lock();
        if seq == s.completed {
            s.completed += 1;
            while s.early.first() == Some(&s.completed) {
                s.early.pop_first();
                s.completed += 1;
            }
            // A parked appender whose entry is now written needs a flusher. The appender that
            // completed this entry usually calls `wait_durable` next and flushes; if no flush is
            // running and none is about to start, hand the job to a parked one.
            if !s.flushing && s.waiters.iter().any(|w| w.0 <= s.completed) {
                if let Some((_, _, t)) = s.waiters.first() {
                    t.unpark();
                }
            }
            if s.completion_waiters > 0 {
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
            s.completion_waiters += 1;
            s = self.completion.wait(s).unwrap_or_else(|p| p.into_inner());
            s.completion_waiters -= 1;
        }
    }

    /// Returns once entries `0..len` are durable, flushing with `flush` if no one else is.
    /// `flush(target)` must make every write that completed before it durable.
    pub(crate) fn wait_durable(
        &self,
        len: u64,
        flush: &dyn Fn(u64) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut s = self.lock();
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
                let reserved = s.reserved;
                let deadline = std::time::Instant::now() + GATHER;
                while s.completed < reserved && s.poisoned.is_none() {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        break;
                    }
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
                let result = flush(target);
                s = self.lock();
                s.flushing = false;
                match result {
                    Ok(()) => {
                        s.durable = s.durable.max(target);
                        let durable = s.durable;
                        let completed = s.completed;
                        let mut handed_off = false;
                        s.waiters.retain(|(wlen, _, t)| {
                            if *wlen <= durable {
                                t.unpark();
                                false
                            } else {
                                // The first one still waiting takes over flushing if there is
                                // written work to flush.
                                if !handed_off && completed > durable {
                                    t.unpark();
                                    handed_off = true;
                                }
                                true
                            }
                        });
                    }
                    Err(e) => {
                        s.poisoned.get_or_insert(e);
                        s.wake_all();
                    }
                }
                continue;
            }
            let ticket = s.next_ticket;
            s.next_ticket += 1;
            s.waiters.push((len, ticket, std::thread::current()));
            drop(s);
            std::thread::park();
            s = self.lock();
            // Woken (or spuriously): leave the list if still on it, then look again.
            s.waiters.retain(|w| w.1 != ticket);
        }
    }
}
