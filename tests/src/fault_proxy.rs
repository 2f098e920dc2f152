//! A seeded, fault-injecting UDP proxy for testing QUIC over bad links.
//!
//! Edge nodes sync footage to the city center over links that lose, duplicate and
//! reorder packets and go down for minutes at a time. The test machines have no
//! `netem`, so this proxy sits between a QUIC client and server on loopback and
//! injects those faults itself:
//!
//! ```text
//!   client ──► FaultProxy::addr() ──(faults)──► target (server)
//!   client ◄── FaultProxy::addr() ◄─(faults)─── target
//! ```
//!
//! * Each client source address gets its own upstream socket (a *session*), so the
//!   server sees one peer per client and replies go back to the right client.
//!   Sessions idle for 60 s are dropped.
//! * Faults apply to both directions independently. Every decision comes from a
//!   seeded PRNG (one stream per session and direction), so the same seed and the
//!   same packet sequence give the same drops, duplicates and reorders.
//! * Delays run on tokio timers in a single delay-line task, so one slow packet
//!   never holds up the others. Held-back and delayed packets are capped
//!   ([`MAX_QUEUED`]); beyond that they are dropped, like a full router queue.
//! * All tasks belong to the proxy: dropping it (or [`FaultProxy::shutdown`])
//!   aborts them and closes every socket.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

/// Most packets that may wait in the delay line at once (both directions, all
/// sessions). Past this, new delayed packets are dropped: memory stays bounded
/// even with a long delay and a fast sender.
pub const MAX_QUEUED: usize = 4096;

/// Most concurrent client sessions; packets from further clients are dropped so a
/// flood of spoofed source ports cannot exhaust file descriptors.
pub const MAX_SESSIONS: usize = 1024;

/// How long a session may stay silent (both ways) before its upstream socket is closed.
pub const SESSION_IDLE: Duration = Duration::from_secs(60);

/// How long a reordered packet waits (beyond delay + jitter) for a later packet to
/// overtake it before it is sent anyway, so a held packet never stalls forever at
/// the end of a burst.
const REORDER_WAIT: Duration = Duration::from_millis(10);

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// The faults to inject. `Default` is a perfect link.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Probability in `[0, 1]` that a packet is dropped.
    pub loss: f64,
    /// Probability that a packet is sent twice.
    pub duplicate: f64,
    /// Probability that a packet is held back and sent after the next one.
    pub reorder: f64,
    /// Fixed one-way delay added to every packet.
    pub delay: Duration,
    /// Extra one-way delay, uniform in `[0, jitter]`, per packet.
    pub jitter: Duration,
    /// periodic link: up for `up`, then down (all packets dropped) for `down`; None = always up.
    /// Phases count from the proxy's start, also after `set_faults`.
    pub cycle: Option<(Duration, Duration)>,
}

/// Counters since the proxy started, summed over both directions and all sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyStats {
    /// Datagrams sent on (duplicates included).
    pub forwarded: u64,
    /// Datagrams dropped: random loss, link down or blackout, full queues, send errors.
    pub dropped: u64,
    /// Extra copies sent because of `Faults::duplicate`.
    pub duplicated: u64,
    /// Held-back datagrams that were overtaken by a later one.
    pub reordered: u64,
    /// Bytes of all forwarded datagrams (`client_to_server + server_to_client`).
    pub bytes_forwarded: u64,
    /// Bytes forwarded towards the target.
    pub bytes_client_to_server: u64,
    /// Bytes forwarded back to clients.
    pub bytes_server_to_client: u64,
}

/// A running proxy. Dropping it stops every task and closes every socket.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The receive loop and the delay line; session tasks are children of the
    /// receive loop, so aborting these two ends everything.
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("target", &self.shared.target)
            .field("stats", &self.stats())
            .finish()
    }
}

impl FaultProxy {
    /// Listens on 127.0.0.1:0 and forwards to `target`; returns once bound.
    pub async fn start(target: SocketAddr, faults: Faults, seed: u64) -> io::Result<FaultProxy> {
        let listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        Self::start_on(listen, target, faults, seed).await
    }

    /// Like [`FaultProxy::start`], listening on `listen` (for the command-line proxy).
    pub async fn start_on(
        listen: SocketAddr,
        target: SocketAddr,
        faults: Faults,
        seed: u64,
    ) -> io::Result<FaultProxy> {
        Self::start_with_idle(listen, target, faults, seed, SESSION_IDLE).await
    }

    async fn start_with_idle(
        listen: SocketAddr,
        target: SocketAddr,
        faults: Faults,
        seed: u64,
        idle: Duration,
    ) -> io::Result<FaultProxy> {
        let front = Arc::new(UdpSocket::bind(listen).await?);
        let addr = front.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            seed,
            idle,
            epoch: Instant::now(),
            faults: Mutex::new(faults),
            blackout: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
            sessions: AtomicUsize::new(0),
            counters: Counters::default(),
        });
        let (delay_tx, delay_rx) = mpsc::unbounded_channel();
        let mut tasks = JoinSet::new();
        tasks.spawn(delay_line(shared.clone(), delay_rx));
        tasks.spawn(client_loop(shared.clone(), front, delay_tx));
        Ok(FaultProxy {
            addr,
            shared,
            tasks,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the faults for every packet from now on (already delayed packets keep
    /// their send time).
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// Cuts the link now (drop everything both ways, packets in flight included) or
    /// restores it.
    pub fn blackout(&self, on: bool) {
        self.shared.blackout.store(on, Ordering::Relaxed);
    }

    pub fn stats(&self) -> ProxyStats {
        self.shared.counters.snapshot()
    }

    /// Client sessions currently open.
    pub fn sessions(&self) -> usize {
        self.shared.sessions.load(Ordering::Relaxed)
    }

    /// Stops the proxy: same as dropping it.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // JoinSet's own Drop aborts too; spelled out because stopping is the point.
        self.tasks.abort_all();
    }
}

/// State shared by the proxy handle and its tasks.
struct Shared {
    target: SocketAddr,
    seed: u64,
    idle: Duration,
    /// Start of the first up phase of `Faults::cycle`.
    epoch: Instant,
    faults: Mutex<Faults>,
    blackout: AtomicBool,
    /// Packets waiting in the delay line.
    queued: AtomicUsize,
    sessions: AtomicUsize,
    counters: Counters,
}

impl Shared {
    fn faults(&self) -> Faults {
        *lock(&self.faults)
    }

    /// Whether the link carries packets at `now`: no blackout and in an up phase.
    fn link_up(&self, faults: &Faults, now: Instant) -> bool {
        if self.blackout.load(Ordering::Relaxed) {
            return false;
        }
        match faults.cycle {
            None => true,
            Some((up, down)) => {
                let period = (up + down).as_nanos();
                if period == 0 {
                    return true;
                }
                let phase = now.saturating_duration_since(self.epoch).as_nanos() % period;
                phase < up.as_nanos()
            }
        }
    }
}

/// A poisoned lock only means another task panicked mid-update of plain data; the
/// value is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Counters {
    forwarded: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
    bytes_c2s: AtomicU64,
    bytes_s2c: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ProxyStats {
        let c2s = self.bytes_c2s.load(Ordering::Relaxed);
        let s2c = self.bytes_s2c.load(Ordering::Relaxed);
        ProxyStats {
            forwarded: self.forwarded.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            duplicated: self.duplicated.load(Ordering::Relaxed),
            reordered: self.reordered.load(Ordering::Relaxed),
            bytes_forwarded: c2s + s2c,
            bytes_client_to_server: c2s,
            bytes_server_to_client: s2c,
        }
    }

    fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// SplitMix64: tiny, fast, and good enough to decide packet fates. Written here so
/// the decisions for a seed never change with a dependency upgrade.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    /// An independent stream for (`seed`, `stream`).
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        // Mix once so nearby seeds/streams start far apart.
        r.next_u64();
        r
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ClientToServer,
    ServerToClient,
}

/// Where a packet goes: the session's upstream socket (connected to the target) or
/// the front socket towards one client.
#[derive(Clone)]
struct Out {
    sock: Arc<UdpSocket>,
    to: Option<SocketAddr>,
    dir: Dir,
}

/// Sends one packet now, unless the link went down while it was in flight.
async fn deliver(shared: &Shared, out: &Out, data: &[u8]) {
    let faults = shared.faults();
    if !shared.link_up(&faults, Instant::now()) {
        shared.counters.drop_one();
        return;
    }
    let sent = match out.to {
        Some(to) => out.sock.send_to(data, to).await,
        None => out.sock.send(data).await,
    };
    let c = &shared.counters;
    match sent {
        Ok(_) => {
            c.forwarded.fetch_add(1, Ordering::Relaxed);
            let bytes = match out.dir {
                Dir::ClientToServer => &c.bytes_c2s,
                Dir::ServerToClient => &c.bytes_s2c,
            };
            bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        Err(_) => c.drop_one(),
    }
}

/// A packet held back to be reordered.
struct Held {
    data: Vec<u8>,
    copies: u8,
    /// Sent anyway at this time if nothing overtook it.
    deadline: Instant,
}

/// The fault decisions for one direction of one session.
struct Pipeline {
    rng: Rng,
    held: Option<Held>,
}

/// What to do with one packet: emit these (send time, bytes) in this order.
type Emits = Vec<(Instant, Vec<u8>)>;

impl Pipeline {
    fn new(rng: Rng) -> Pipeline {
        Pipeline { rng, held: None }
    }

    /// Decides the fate of one packet arriving at `now`.
    fn on_packet(&mut self, shared: &Shared, data: Vec<u8>, now: Instant) -> Emits {
        let f = shared.faults();
        // Always draw the same number of values per packet, so a packet's fate
        // depends only on its position in the sequence, not on earlier fates.
        let (u_loss, u_dup, u_reorder, u_jitter) = (
            self.rng.unit(),
            self.rng.unit(),
            self.rng.unit(),
            self.rng.unit(),
        );
        let c = &shared.counters;
        if !shared.link_up(&f, now) || u_loss < f.loss {
            c.drop_one();
            return Vec::new();
        }
        let copies: u8 = if u_dup < f.duplicate {
            c.duplicated.fetch_add(1, Ordering::Relaxed);
            2
        } else {
            1
        };
        let at = now + f.delay + f.jitter.mul_f64(u_jitter);
        let mut emits = Vec::with_capacity(4);
        match self.held.take() {
            // This packet overtakes the held one, which follows right behind it.
            Some(held) => {
                c.reordered.fetch_add(1, Ordering::Relaxed);
                push_copies(&mut emits, at, data, copies);
                push_copies(&mut emits, at, held.data, held.copies);
            }
            None if u_reorder < f.reorder => {
                self.held = Some(Held {
                    data,
                    copies,
                    deadline: now + f.delay + f.jitter + REORDER_WAIT,
                });
            }
            None => push_copies(&mut emits, at, data, copies),
        }
        emits
    }

    fn held_deadline(&self) -> Option<Instant> {
        self.held.as_ref().map(|h| h.deadline)
    }

    /// The held packet, if its wait is over.
    fn take_due(&mut self, now: Instant) -> Emits {
        match &self.held {
            Some(h) if h.deadline <= now => {}
            _ => return Vec::new(),
        }
        let mut emits = Vec::new();
        if let Some(h) = self.held.take() {
            push_copies(&mut emits, now, h.data, h.copies);
        }
        emits
    }
}

fn push_copies(emits: &mut Emits, at: Instant, data: Vec<u8>, copies: u8) {
    if copies > 1 {
        emits.push((at, data.clone()));
    }
    emits.push((at, data));
}

/// Sends what is due now and hands later packets to the delay line.
async fn emit(
    shared: &Shared,
    delay_tx: &mpsc::UnboundedSender<Scheduled>,
    out: &Out,
    emits: Emits,
) {
    let now = Instant::now();
    for (at, data) in emits {
        if at <= now {
            deliver(shared, out, &data).await;
            continue;
        }
        // Reserve a slot first so concurrent producers cannot overshoot the cap.
        if shared.queued.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED {
            shared.queued.fetch_sub(1, Ordering::Relaxed);
            shared.counters.drop_one();
            continue;
        }
        let item = Scheduled {
            at,
            seq: 0,
            data,
            out: out.clone(),
        };
        if delay_tx.send(item).is_err() {
            // Delay line gone: the proxy is shutting down.
            shared.queued.fetch_sub(1, Ordering::Relaxed);
            shared.counters.drop_one();
        }
    }
}

/// A packet waiting in the delay line.
struct Scheduled {
    at: Instant,
    /// Arrival order in the delay line: equal send times keep their order.
    seq: u64,
    data: Vec<u8>,
    out: Out,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Reversed, so the std max-heap pops the earliest packet first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One task for all delayed packets: a timer heap instead of a task per packet.
async fn delay_line(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Scheduled>) {
    let mut heap: BinaryHeap<Scheduled> = BinaryHeap::new();
    let mut seq: u64 = 0;
    loop {
        let next = heap.peek().map(|s| s.at);
        tokio::select! {
            item = rx.recv() => match item {
                Some(mut item) => {
                    item.seq = seq;
                    seq += 1;
                    heap.push(item);
                }
                None => return,
            },
            () = sleep_until_opt(next) => {
                let now = Instant::now();
                while heap.peek().is_some_and(|s| s.at <= now) {
                    if let Some(item) = heap.pop() {
                        shared.queued.fetch_sub(1, Ordering::Relaxed);
                        deliver(&shared, &item.out, &item.data).await;
                    }
                }
            }
        }
    }
}

/// One client's upstream path, owned by the client loop.
struct Session {
    out: Out,
    c2s: Pipeline,
    /// Milliseconds since `Shared::epoch` of the last packet either way.
    last_seen: Arc<AtomicU64>,
    task: AbortHandle,
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Errors that say nothing about our socket: an ICMP "port unreachable" from an
/// earlier send (the server is not up yet) or an interrupted call. Keep going.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Receives from clients, runs the client-to-server faults, owns the sessions.
async fn client_loop(
    shared: Arc<Shared>,
    front: Arc<UdpSocket>,
    delay_tx: mpsc::UnboundedSender<Scheduled>,
) {
    let mut sessions: HashMap<SocketAddr, Session> = HashMap::new();
    // Session tasks live here: when this task is aborted, this set is dropped and
    // aborts them all.
    let mut session_tasks: JoinSet<()> = JoinSet::new();
    let mut next_index: u64 = 0;
    let mut sweep = tokio::time::interval((shared.idle / 4).max(Duration::from_millis(10)));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let next_held = sessions
            .values()
            .filter_map(|s| s.c2s.held_deadline())
            .min();
        tokio::select! {
            got = front.recv_from(&mut buf) => {
                let (len, from) = match got {
                    Ok(got) => got,
                    Err(e) if transient(&e) => continue,
                    Err(_) => {
                        // Unexpected; do not spin on a persistent error.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let data = buf[..len].to_vec();
                if !sessions.contains_key(&from) {
                    if sessions.len() >= MAX_SESSIONS {
                        shared.counters.drop_one();
                        continue;
                    }
                    match open_session(&shared, &front, from, next_index, &mut session_tasks, &delay_tx).await {
                        Ok(s) => {
                            next_index += 1;
                            sessions.insert(from, s);
                            shared.sessions.store(sessions.len(), Ordering::Relaxed);
                        }
                        Err(_) => {
                            shared.counters.drop_one();
                            continue;
                        }
                    }
                }
                if let Some(s) = sessions.get_mut(&from) {
                    s.last_seen.store(millis_since(shared.epoch), Ordering::Relaxed);
                    let emits = s.c2s.on_packet(&shared, data, Instant::now());
                    emit(&shared, &delay_tx, &s.out, emits).await;
                }
            }
            () = sleep_until_opt(next_held) => {
                let now = Instant::now();
                for s in sessions.values_mut() {
                    let emits = s.c2s.take_due(now);
                    emit(&shared, &delay_tx, &s.out, emits).await;
                }
            }
            _ = sweep.tick() => {
                let now = millis_since(shared.epoch);
                let idle = u64::try_from(shared.idle.as_millis()).unwrap_or(u64::MAX);
                sessions.retain(|_, s| {
                    let alive = now.saturating_sub(s.last_seen.load(Ordering::Relaxed)) < idle;
                    if !alive {
                        s.task.abort();
                    }
                    alive
                });
                shared.sessions.store(sessions.len(), Ordering::Relaxed);
            }
            // Reap finished (aborted) session tasks so the set does not grow.
            Some(_) = session_tasks.join_next() => {}
        }
    }
}

/// Opens the upstream socket for a new client and starts its reply task.
async fn open_session(
    shared: &Arc<Shared>,
    front: &Arc<UdpSocket>,
    client: SocketAddr,
    index: u64,
    tasks: &mut JoinSet<()>,
    delay_tx: &mpsc::UnboundedSender<Scheduled>,
) -> io::Result<Session> {
    let any: IpAddr = match shared.target {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let up = Arc::new(UdpSocket::bind(SocketAddr::new(any, 0)).await?);
    // Connected, so the kernel filters out packets from anyone but the target.
    up.connect(shared.target).await?;
    let last_seen = Arc::new(AtomicU64::new(millis_since(shared.epoch)));
    let s2c = Pipeline::new(Rng::new(shared.seed, index * 2 + 1));
    let back = Out {
        sock: front.clone(),
        to: Some(client),
        dir: Dir::ServerToClient,
    };
    let task = tasks.spawn(server_loop(
        shared.clone(),
        up.clone(),
        back,
        s2c,
        last_seen.clone(),
        delay_tx.clone(),
    ));
    Ok(Session {
        out: Out {
            sock: up,
            to: None,
            dir: Dir::ClientToServer,
        },
        c2s: Pipeline::new(Rng::new(shared.seed, index * 2)),
        last_seen,
        task,
    })
}

/// Receives the server's replies for one session and runs the server-to-client faults.
async fn server_loop(
    shared: Arc<Shared>,
    up: Arc<UdpSocket>,
    back: Out,
    mut pipe: Pipeline,
    last_seen: Arc<AtomicU64>,
    delay_tx: mpsc::UnboundedSender<Scheduled>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            got = up.recv(&mut buf) => {
                let len = match got {
                    Ok(len) => len,
                    Err(e) if transient(&e) => continue,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                last_seen.store(millis_since(shared.epoch), Ordering::Relaxed);
                let emits = pipe.on_packet(&shared, buf[..len].to_vec(), Instant::now());
                emit(&shared, &delay_tx, &back, emits).await;
            }
            () = sleep_until_opt(pipe.held_deadline()) => {
                let emits = pipe.take_due(Instant::now());
                emit(&shared, &delay_tx, &back, emits).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Datagram size in the tests: a sequence number and padding.
    const SIZE: usize = 64;

    /// A UDP echo server that also records which sequence numbers reached it.
    struct Echo {
        addr: SocketAddr,
        seen: Arc<Mutex<Vec<u32>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Echo {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Echo {
        async fn start() -> Echo {
            let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind echo");
            let addr = sock.local_addr().expect("echo addr");
            let seen = Arc::new(Mutex::new(Vec::new()));
            let log = seen.clone();
            let task = tokio::spawn(async move {
                let mut buf = vec![0u8; MAX_DATAGRAM];
                loop {
                    let Ok((len, from)) = sock.recv_from(&mut buf).await else {
                        continue;
                    };
                    lock(&log).push(seq_of(&buf[..len]));
                    let _ = sock.send_to(&buf[..len], from).await;
                }
            });
            Echo { addr, seen, task }
        }

        fn seen(&self) -> Vec<u32> {
            lock(&self.seen).clone()
        }
    }

    fn seq_of(d: &[u8]) -> u32 {
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// Sends `n` numbered datagrams to `to`, `burst` every `period`, while collecting
    /// the echoes; returns the sequence numbers in arrival order once nothing has
    /// arrived for `quiet` after the last send.
    async fn exchange(
        to: SocketAddr,
        n: u32,
        burst: u32,
        period: Duration,
        quiet: Duration,
        window: Option<&FaultProxy>,
    ) -> Vec<u32> {
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind client");
        sock.connect(to).await.expect("connect");
        exchange_on(&sock, 0, n, burst, period, quiet, window).await
    }

    /// Copies the test sender lets be in flight at once when it is flow-controlled.
    /// On a loaded machine the kernel hands loopback datagrams over late and then in
    /// a burst; a bounded window keeps that burst within the socket buffers, so the
    /// only losses are the proxy's.
    const WINDOW: u64 = 64;

    /// Sends `n` numbered datagrams from `first` on, up to `burst` every `period`,
    /// while collecting the echoes; returns the sequence numbers in arrival order once
    /// nothing has arrived for `quiet` after the last send. With `window`, at most
    /// [`WINDOW`] copies are outstanding, counted from the proxy's own stats: every
    /// copy sent, plus duplicates, minus drops, comes back eventually.
    async fn exchange_on(
        sock: &UdpSocket,
        first: u32,
        n: u32,
        burst: u32,
        period: Duration,
        quiet: Duration,
        window: Option<&FaultProxy>,
    ) -> Vec<u32> {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut got = Vec::new();
        let mut next = first;
        let end = first + n;
        let mut out = [0u8; SIZE];
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let base = window.map(|p| p.stats()).unwrap_or_default();
        let mut last_recv = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick(), if next < end => {
                    let mut room = u64::from(burst.min(end - next));
                    if let Some(p) = window {
                        let s = p.stats();
                        let due = u64::from(next - first) + (s.duplicated - base.duplicated);
                        let settled = got.len() as u64 + (s.dropped - base.dropped);
                        let outstanding = due.saturating_sub(settled);
                        // A copy lost outside the proxy would stall the window for
                        // good; go on after a while and let the assertions tell.
                        if last_recv.elapsed() < Duration::from_millis(200) {
                            room = room.min(WINDOW.saturating_sub(outstanding));
                        }
                    }
                    for _ in 0..room {
                        out[..4].copy_from_slice(&next.to_be_bytes());
                        sock.send(&out).await.expect("send");
                        next += 1;
                    }
                }
                r = sock.recv(&mut buf) => {
                    let len = r.expect("recv");
                    assert_eq!(len, SIZE, "datagram resized");
                    got.push(seq_of(&buf[..len]));
                    last_recv = Instant::now();
                }
                // Re-armed on every loop turn: fires after `quiet` with no traffic.
                () = tokio::time::sleep(quiet), if next >= end => break,
            }
        }
        got
    }

    /// Up to 25 datagrams a millisecond, flow-controlled.
    async fn bulk(proxy: &FaultProxy, n: u32) -> Vec<u32> {
        exchange(
            proxy.addr(),
            n,
            25,
            Duration::from_millis(1),
            Duration::from_millis(150),
            Some(proxy),
        )
        .await
    }

    fn count_inversions(got: &[u32]) -> usize {
        got.windows(2).filter(|w| w[1] < w[0]).count()
    }

    #[test]
    fn rng_is_seeded_and_uniform() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7, 0);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(7, 0);
        assert_eq!(a, (0..8).map(|_| r.next_u64()).collect::<Vec<_>>());
        let mut other = Rng::new(7, 1);
        assert_ne!(a[0], other.next_u64(), "streams differ");
        let mut r = Rng::new(1, 0);
        let mean = (0..100_000).map(|_| r.unit()).sum::<f64>() / 100_000.0;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    }

    #[tokio::test]
    async fn no_faults_delivers_everything_once_in_order() {
        let echo = Echo::start().await;
        let proxy = FaultProxy::start(echo.addr, Faults::default(), 1)
            .await
            .expect("start");
        let got = bulk(&proxy, 5000).await;
        assert_eq!(got, (0..5000).collect::<Vec<_>>());
        let s = proxy.stats();
        assert_eq!(s.forwarded, 10_000);
        assert_eq!((s.dropped, s.duplicated, s.reordered), (0, 0, 0));
        assert_eq!(s.bytes_client_to_server, 5000 * SIZE as u64);
        assert_eq!(s.bytes_forwarded, 10_000 * SIZE as u64);
        assert_eq!(proxy.sessions(), 1);
    }

    #[tokio::test]
    async fn loss_drops_the_given_fraction_and_stats_agree() {
        let echo = Echo::start().await;
        let faults = Faults {
            loss: 0.2,
            ..Faults::default()
        };
        let proxy = FaultProxy::start(echo.addr, faults, 2)
            .await
            .expect("start");
        let n = 5000u64;
        let got = bulk(&proxy, n as u32).await.len() as u64;
        let at_server = echo.seen().len() as u64;
        // Client to server alone: one pass through the loss.
        let lost = 1.0 - at_server as f64 / n as f64;
        assert!((0.15..=0.25).contains(&lost), "lost {lost}");
        // Round trip: two passes, 1 - 0.8².
        let lost_rt = 1.0 - got as f64 / n as f64;
        assert!(
            (0.30..=0.42).contains(&lost_rt),
            "round trip lost {lost_rt}"
        );
        let s = proxy.stats();
        assert_eq!(s.dropped, (n - at_server) + (at_server - got));
        assert_eq!(s.forwarded, at_server + got);
        assert_eq!(s.bytes_client_to_server, at_server * SIZE as u64);
        assert_eq!(s.bytes_server_to_client, got * SIZE as u64);
    }

    #[tokio::test]
    async fn duplicate_sends_extra_copies() {
        let echo = Echo::start().await;
        let faults = Faults {
            duplicate: 0.1,
            ..Faults::default()
        };
        let proxy = FaultProxy::start(echo.addr, faults, 3)
            .await
            .expect("start");
        let n = 5000usize;
        let got = bulk(&proxy, n as u32).await;
        let at_server = echo.seen().len();
        let dup = at_server as f64 / n as f64 - 1.0;
        assert!((0.08..=0.12).contains(&dup), "duplicates {dup}");
        // Nothing lost: every number arrived at least once.
        let distinct: BTreeSet<u32> = got.iter().copied().collect();
        assert_eq!(distinct.len(), n);
        let s = proxy.stats();
        assert_eq!(s.duplicated as usize, got.len() - n);
        assert_eq!(s.dropped, 0);
    }

    #[tokio::test]
    async fn reorder_shuffles_but_loses_nothing() {
        let echo = Echo::start().await;
        let faults = Faults {
            reorder: 0.05,
            ..Faults::default()
        };
        let proxy = FaultProxy::start(echo.addr, faults, 4)
            .await
            .expect("start");
        let got = bulk(&proxy, 5000).await;
        let inversions = count_inversions(&got);
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..5000).collect::<Vec<_>>(), "each exactly once");
        // ~5% each way, so roughly 500 held back; some overtaken per burst.
        assert!(inversions > 100, "only {inversions} out of order");
        let s = proxy.stats();
        assert!(s.reordered > 300, "{s:?}");
        assert_eq!(s.dropped, 0);
    }

    #[tokio::test]
    async fn reordered_packet_is_not_held_forever() {
        let echo = Echo::start().await;
        let faults = Faults {
            reorder: 1.0,
            ..Faults::default()
        };
        let proxy = FaultProxy::start(echo.addr, faults, 5)
            .await
            .expect("start");
        // A lone datagram has nothing to overtake it: it goes after REORDER_WAIT.
        let got = exchange(
            proxy.addr(),
            1,
            1,
            Duration::from_millis(1),
            Duration::from_millis(100),
            None,
        )
        .await;
        assert_eq!(got, vec![0]);
    }

    #[tokio::test]
    async fn blackout_cuts_and_restores_the_link() {
        let echo = Echo::start().await;
        let proxy = FaultProxy::start(echo.addr, Faults::default(), 6)
            .await
            .expect("start");
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        sock.connect(proxy.addr()).await.expect("connect");
        let q = Duration::from_millis(100);
        proxy.blackout(true);
        let got = exchange_on(&sock, 0, 200, 20, Duration::from_millis(1), q, Some(&proxy)).await;
        assert!(got.is_empty(), "{} passed the blackout", got.len());
        assert!(echo.seen().is_empty());
        assert_eq!(proxy.stats().dropped, 200);
        proxy.blackout(false);
        let got = exchange_on(
            &sock,
            200,
            200,
            20,
            Duration::from_millis(1),
            q,
            Some(&proxy),
        )
        .await;
        assert_eq!(got, (200..400).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn blackout_drops_packets_in_flight() {
        let echo = Echo::start().await;
        let faults = Faults {
            delay: Duration::from_millis(50),
            ..Faults::default()
        };
        let proxy = FaultProxy::start(echo.addr, faults, 7)
            .await
            .expect("start");
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        sock.connect(proxy.addr()).await.expect("connect");
        sock.send(&[0u8; SIZE]).await.expect("send");
        tokio::time::sleep(Duration::from_millis(10)).await;
        proxy.blackout(true);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(echo.seen().is_empty(), "delayed packet crossed a cut link");
        assert_eq!(proxy.stats().dropped, 1);
    }

    #[tokio::test]
    async fn same_seed_same_fate() {
        async fn run(seed: u64) -> BTreeSet<u32> {
            let echo = Echo::start().await;
            let faults = Faults {
                loss: 0.3,
                duplicate: 0.05,
                ..Faults::default()
            };
            let proxy = FaultProxy::start(echo.addr, faults, seed)
                .await
                .expect("start");
            bulk(&proxy, 2000).await.into_iter().collect()
        }
        let a = run(42).await;
        let b = run(42).await;
        assert!(a.len() > 900 && a.len() < 1200, "{} arrived", a.len());
        assert_eq!(a, b, "same seed, different fates");
        assert_ne!(a, run(43).await, "the seed should matter");
    }

    #[tokio::test]
    async fn cycling_link_passes_its_up_fraction() {
        let echo = Echo::start().await;
        let faults = Faults {
            cycle: Some((Duration::from_millis(200), Duration::from_millis(300))),
            ..Faults::default()
        };
        let proxy = FaultProxy::start(echo.addr, faults, 8)
            .await
            .expect("start");
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        sock.connect(proxy.addr()).await.expect("connect");
        // One datagram every 2 ms for 2 s (four whole up/down periods), on absolute
        // deadlines so a late timer does not stretch the run.
        let n = 1000u32;
        let t0 = Instant::now();
        let (mut sent, mut expected, mut got) = (0u32, 0u32, 0u32);
        let mut buf = [0u8; SIZE];
        loop {
            let next = t0 + Duration::from_millis(2) * sent;
            tokio::select! {
                () = tokio::time::sleep_until(next), if sent < n => {
                    let now = Instant::now();
                    if proxy.shared.link_up(&faults, now) {
                        expected += 1;
                    }
                    sock.send(&sent.to_be_bytes()).await.expect("send");
                    sent += 1;
                }
                r = sock.recv(&mut buf) => {
                    r.expect("recv");
                    got += 1;
                }
                () = tokio::time::sleep(Duration::from_millis(100)), if sent >= n => break,
            }
        }
        let passed = f64::from(got) / f64::from(n);
        assert!(
            (0.32..=0.48).contains(&passed),
            "{passed} passed, expected ~0.4"
        );
        // Only datagrams sent right at an up/down edge may differ from the schedule.
        assert!(
            got.abs_diff(expected) <= 20,
            "got {got}, schedule says {expected}"
        );
    }

    #[tokio::test]
    async fn delay_and_jitter_hold_packets_without_blocking() {
        let echo = Echo::start().await;
        let faults = Faults {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(10),
            ..Faults::default()
        };
        let proxy = FaultProxy::start(echo.addr, faults, 9)
            .await
            .expect("start");
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        sock.connect(proxy.addr()).await.expect("connect");
        let t0 = Instant::now();
        sock.send(&[0u8; SIZE]).await.expect("send");
        let mut buf = [0u8; SIZE];
        sock.recv(&mut buf).await.expect("recv");
        let rtt = t0.elapsed();
        assert!(rtt >= Duration::from_millis(40), "rtt {rtt:?}");
        // (the upper bound is loose: a loaded machine wakes timers late)
        assert!(rtt < Duration::from_secs(1), "rtt {rtt:?}");
        // 1000 datagrams, 64 in flight at a time (so a late-scheduled reader cannot
        // overflow the socket buffers and lose some: that flaked at load 10), all
        // arrive. Held one after another they would take 1000 × ≥ 40 ms = 40 s; well
        // under that means the delay timers overlap.
        let t0 = Instant::now();
        let got = exchange(
            proxy.addr(),
            1000,
            10,
            Duration::from_millis(1),
            Duration::from_millis(100),
            Some(&proxy),
        )
        .await;
        let mut sorted = got;
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert!(
            t0.elapsed() < Duration::from_secs(8),
            "took {:?}",
            t0.elapsed()
        );
    }

    #[tokio::test]
    async fn delayed_packets_are_capped() {
        let echo = Echo::start().await;
        let faults = Faults {
            delay: Duration::from_secs(30),
            ..Faults::default()
        };
        let proxy = FaultProxy::start(echo.addr, faults, 10)
            .await
            .expect("start");
        let n = MAX_QUEUED as u32 + 500;
        let got = exchange(
            proxy.addr(),
            n,
            25,
            Duration::from_millis(1),
            Duration::from_millis(50),
            None,
        )
        .await;
        assert!(got.is_empty());
        let s = proxy.stats();
        assert_eq!(s.dropped, 500, "{s:?}");
        assert_eq!(proxy.shared.queued.load(Ordering::Relaxed), MAX_QUEUED);
    }

    #[tokio::test]
    async fn clients_get_their_own_replies_and_idle_sessions_close() {
        let echo = Echo::start().await;
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let idle = Duration::from_millis(150);
        let proxy = FaultProxy::start_with_idle(listen, echo.addr, Faults::default(), 11, idle)
            .await
            .expect("start");
        let (a, b) = tokio::join!(
            exchange(
                proxy.addr(),
                300,
                10,
                Duration::from_millis(1),
                Duration::from_millis(60),
                None,
            ),
            async {
                let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
                sock.connect(proxy.addr()).await.expect("connect");
                exchange_on(
                    &sock,
                    10_000,
                    300,
                    10,
                    Duration::from_millis(1),
                    Duration::from_millis(60),
                    None,
                )
                .await
            }
        );
        assert_eq!(a, (0..300).collect::<Vec<_>>());
        assert_eq!(b, (10_000..10_300).collect::<Vec<_>>());
        assert_eq!(proxy.sessions(), 2);
        tokio::time::sleep(idle * 3).await;
        assert_eq!(proxy.sessions(), 0, "idle sessions kept");
        let again = bulk(&proxy, 10).await;
        assert_eq!(again, (0..10).collect::<Vec<_>>());
        assert_eq!(proxy.sessions(), 1);
    }

    #[tokio::test]
    async fn shutdown_stops_every_task_and_closes_sockets() {
        let echo = Echo::start().await;
        let faults = Faults {
            delay: Duration::from_secs(30),
            reorder: 0.5,
            ..Faults::default()
        };
        let proxy = FaultProxy::start(echo.addr, faults, 12)
            .await
            .expect("start");
        let addr = proxy.addr();
        let _ = bulk(&proxy, 100).await;
        let weak = Arc::downgrade(&proxy.shared);
        proxy.shutdown();
        // Aborted tasks are dropped on their next poll; give the runtime a moment.
        for _ in 0..50 {
            if weak.upgrade().is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            weak.upgrade().is_none(),
            "a task still holds the proxy state"
        );
        // The front socket is closed: its port can be bound again.
        UdpSocket::bind(addr).await.expect("port released");
    }

    #[tokio::test]
    async fn set_faults_applies_at_run_time() {
        let echo = Echo::start().await;
        let proxy = FaultProxy::start(echo.addr, Faults::default(), 13)
            .await
            .expect("start");
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        sock.connect(proxy.addr()).await.expect("connect");
        let q = Duration::from_millis(60);
        assert_eq!(
            exchange_on(&sock, 0, 100, 10, Duration::from_millis(1), q, Some(&proxy))
                .await
                .len(),
            100
        );
        proxy.set_faults(Faults {
            loss: 1.0,
            ..Faults::default()
        });
        assert!(exchange_on(
            &sock,
            100,
            100,
            10,
            Duration::from_millis(1),
            q,
            Some(&proxy)
        )
        .await
        .is_empty());
        proxy.set_faults(Faults::default());
        assert_eq!(
            exchange_on(
                &sock,
                200,
                100,
                10,
                Duration::from_millis(1),
                q,
                Some(&proxy)
            )
            .await
            .len(),
            100
        );
    }
}
