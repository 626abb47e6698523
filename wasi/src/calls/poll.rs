//! `poll_oneoff`: waits for the earliest clock subscription. Descriptor
//! subscriptions are reported ready at once (reads and writes of files
//! and of the store's streams never wait for readiness here), so a poll
//! with any of them returns without sleeping.

use crate::abi::{event, eventtype, subscription, SUBSCRIPTION_CLOCK_ABSTIME};
use crate::calls::clock;
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::memory::GuestMemory;

/// One subscription as read from the guest.
struct Subscription {
    userdata: u64,
    kind: Kind,
}

enum Kind {
    /// Fires at `deadline` of clock `id`.
    Clock { id: u32, deadline: u64 },
    /// Fires at once, with the descriptor's check's outcome.
    Fd { tag: u8, error: Option<Errno> },
}

fn read(mem: &GuestMemory<'_>, ctx: &WasiCtx, at: u32) -> WasiResult<Subscription> {
    let field = |f: u32| at.checked_add(f).ok_or(Errno::FAULT);
    let userdata = mem.read_u64(field(subscription::USERDATA)?)?;
    let tag = mem.slice(field(subscription::TAG)?, 1)?[0];
    let kind = match tag {
        eventtype::CLOCK => {
            let id = mem.read_u32(field(subscription::CLOCK_ID)?)?;
            let timeout = mem.read_u64(field(subscription::CLOCK_TIMEOUT)?)?;
            let absolute = mem.read_u16(field(subscription::CLOCK_FLAGS)?)? & SUBSCRIPTION_CLOCK_ABSTIME != 0;
            let deadline = if absolute { timeout } else { clock::now(id)?.saturating_add(timeout) };
            Kind::Clock { id, deadline }
        }
        eventtype::FD_READ | eventtype::FD_WRITE => {
            let fd = mem.read_u32(field(subscription::FD)?)?;
            Kind::Fd { tag, error: ctx.fds.get(fd).err() }
        }
        _ => return Err(Errno::INVAL),
    };
    Ok(Subscription { userdata, kind })
}

/// Write one event at `at`.
fn write_event(mem: &mut GuestMemory<'_>, at: u32, userdata: u64, error: Option<Errno>, tag: u8) -> WasiResult {
    let field = |f: u32| at.checked_add(f).ok_or(Errno::FAULT);
    mem.slice_mut(at, event::SIZE)?.fill(0);
    mem.write_u64(field(event::USERDATA)?, userdata)?;
    mem.write_u16(field(event::ERROR)?, error.map_or(0, |e| e.0))?;
    mem.write_u8(field(event::TYPE)?, tag)
}

pub(crate) fn poll_oneoff(mem: &mut GuestMemory<'_>, ctx: &mut WasiCtx, input: u32, output: u32, count: u32, nevents: u32) -> WasiResult {
    if count == 0 {
        return Err(Errno::INVAL);
    }
    let subscriptions = (0..count)
        .map(|i| read(mem, ctx, input.checked_add(i.checked_mul(subscription::SIZE).ok_or(Errno::FAULT)?).ok_or(Errno::FAULT)?))
        .collect::<WasiResult<Vec<_>>>()?;
    let ready_fds = subscriptions.iter().any(|s| matches!(s.kind, Kind::Fd { .. }));
    if !ready_fds {
        // Sleep until the earliest deadline, on its own clock.
        let (id, deadline) = subscriptions
            .iter()
            .filter_map(|s| match s.kind {
                Kind::Clock { id, deadline } => Some((id, deadline)),
                Kind::Fd { .. } => None,
            })
            .min_by_key(|(_, deadline)| *deadline)
            .ok_or(Errno::INVAL)?;
        loop {
            let now = clock::now(id)?;
            if now >= deadline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_nanos(deadline - now));
        }
    }
    let mut written = 0u32;
    for s in &subscriptions {
        let (error, tag) = match s.kind {
            Kind::Clock { id, deadline } if clock::now(id)? >= deadline => (None, eventtype::CLOCK),
            Kind::Clock { .. } => continue,
            Kind::Fd { tag, error } => (error, tag),
        };
        let at = output.checked_add(written.checked_mul(event::SIZE).ok_or(Errno::FAULT)?).ok_or(Errno::FAULT)?;
        write_event(mem, at, s.userdata, error, tag)?;
        written += 1;
    }
    mem.write_u32(nevents, written)
}
