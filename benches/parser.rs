//! Parser cost on hostile sizes, and what it does to the rest of the process: parse time of one
//! message of 2,500 to 40,000 characters and of threads of 5 to 50 turns, then the delay a
//! 1 ms ticker (standing in for the Slack ack path) sees while large inputs are parsed inline on
//! the executor versus through `ParserIntake` (which moves large inputs off it). Prints figures;
//! run with `cargo bench --bench parser`. The `[limits]` defaults refuse such inputs before any
//! intake runs; this measures the parser itself, which is also the model's fallback.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use warden::domain::{Catalog, Person};
use warden::intake::{Intake, IntakeContext, ParserIntake, ThreadMessage, parser};

const SENTENCE: &str =
    "need read on the prod billing db for 2h because INC-4411 the payments cluster is slow and ";

/// Shapes that stress one part each: clauses (the reason's trailing-clause walk), spaced dashes
/// (reason markers), and words that name nothing (every n-gram goes to the typo search).
const SHAPES: &[(&str, &str)] = &[
    (
        "clauses",
        "need read, on the prod billing db, for 2h, because INC-4411, read only, ",
    ),
    (
        "dashes",
        "need read on the prod billing db - the - a - for - the - ",
    ),
    (
        "no names",
        "please look at the flurbo quixel cluster and the wombat sprocket thing again ",
    ),
];

fn message(chars: usize) -> String {
    cycled(SENTENCE, chars)
}

fn cycled(text: &str, chars: usize) -> String {
    text.chars().cycle().take(chars).collect()
}

/// A catalog of `n` resources with three names each, for the typo search's cost per n-gram.
fn big_catalog(n: usize) -> Catalog {
    let mut toml = String::new();
    for i in 0..n {
        toml.push_str(&format!(
            "[[resource]]\nid = \"svc-{i}\"\nname = \"Service number {i}\"\naliases = [\"system {i} db\"]\nroles = [\"read\", \"write\"]\nowners = [\"carol\"]\nrisk = \"low\"\nmax_duration = \"8h\"\ndefault_duration = \"1h\"\ngrant = {{ backend = \"log\" }}\n\n"
        ));
    }
    Catalog::from_toml(&toml).expect("big catalog")
}

fn thread(turns: usize) -> Vec<ThreadMessage> {
    (0..turns)
        .map(|i| ThreadMessage {
            author: if i % 2 == 0 { "requester" } else { "warden" }.into(),
            text: SENTENCE.into(),
        })
        .collect()
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() * 99 / 100).copied().unwrap_or_default()
}

/// Ticks every millisecond on the runtime while `load` runs; returns the tick delays' p99 and max.
async fn ticker_during<F: std::future::Future<Output = ()> + Send + 'static>(
    load: impl Fn() -> F,
) -> (Duration, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let ticker = tokio::spawn(async move {
        let mut delays = Vec::new();
        while !s.load(Ordering::Relaxed) {
            let t = Instant::now();
            tokio::time::sleep(Duration::from_millis(1)).await;
            delays.push(t.elapsed().saturating_sub(Duration::from_millis(1)));
        }
        delays
    });
    // Two parses at once on a two-worker runtime: inline, they occupy every worker.
    let work: Vec<_> = (0..4).map(|_| tokio::spawn(load())).collect();
    for w in work {
        w.await.expect("parse task");
    }
    stop.store(true, Ordering::Relaxed);
    let delays = ticker.await.expect("ticker");
    let max = delays.iter().max().copied().unwrap_or_default();
    (p99(delays), max)
}

fn main() {
    let catalog = Arc::new(Catalog::from_toml(warden::app::EXAMPLE_CATALOG).expect("catalog"));
    println!("one message, parse time (best of 3):");
    for chars in [2_500, 5_000, 10_000, 20_000, 40_000] {
        let text = message(chars);
        let t = best_of(3, || parser::parse(&text, &catalog));
        println!(
            "  {chars:>6} chars  {:>9.2?}  ({:.1} µs per 100 chars)",
            t,
            t.as_secs_f64() * 1e8 / chars as f64
        );
    }
    for &(name, shape) in SHAPES {
        println!("one message shaped \"{name}\", parse time (best of 3):");
        for chars in [2_500, 10_000, 40_000] {
            let text = cycled(shape, chars);
            let t = best_of(3, || parser::parse(&text, &catalog));
            println!("  {chars:>6} chars  {t:>9.2?}");
        }
    }
    for size in [50, 500] {
        let big = big_catalog(size);
        println!("one message shaped \"no names\", {size}-resource catalog (best of 3):");
        for chars in [2_500, 10_000] {
            let text = cycled(SHAPES[2].1, chars);
            let t = best_of(3, || parser::parse(&text, &big));
            println!("  {chars:>6} chars  {t:>9.2?}");
        }
    }
    // A catalog of its own for each reading: a thread already read against a catalog is
    // remembered, and this measures reading it.
    let fresh = || Catalog::from_toml(warden::app::EXAMPLE_CATALOG).expect("catalog");
    println!("one thread read whole, parse time (best of 3):");
    for turns in [5, 10, 20, 40, 50] {
        let th = thread(turns);
        let t = (0..3)
            .map(|_| {
                let c = fresh();
                let t = Instant::now();
                std::hint::black_box(parser::parse_thread(&th, &c));
                t.elapsed()
            })
            .min()
            .unwrap_or_default();
        println!("  {turns:>6} turns  {t:>9.2?}");
    }
    // What a conversation costs: the intake reads the thread again at every new message.
    println!("a conversation, the thread parsed at every turn (total):");
    for turns in [10, 20, 50] {
        let th = thread(turns);
        let catalog = fresh();
        let t = Instant::now();
        for n in 1..=turns {
            std::hint::black_box(parser::parse_thread(&th[..n], &catalog));
        }
        println!("  {turns:>6} turns  {:>9.2?}", t.elapsed());
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let big = Arc::new(vec![ThreadMessage {
        author: "requester".into(),
        text: message(40_000),
    }]);
    let person = Person {
        id: "alice".into(),
        display_name: "Alice".into(),
        email: None,
        manager: None,
        groups: vec![],
        accounts: vec![],
        sso_subject: None,
        target_ids: Default::default(),
        active: true,
    };
    let person = Arc::new(person);
    rt.block_on(async {
        let (idle, _) = ticker_during(|| async {}).await;
        let (c, b) = (catalog.clone(), big.clone());
        let (inline_p99, inline_max) = ticker_during(move || {
            let (c, b) = (c.clone(), b.clone());
            async move {
                std::hint::black_box(parser::parse_thread(&b, &c));
            }
        })
        .await;
        let (c, b, p) = (catalog.clone(), big.clone(), person.clone());
        let (off_p99, off_max) = ticker_during(move || {
            let (c, b, p) = (c.clone(), b.clone(), p.clone());
            async move {
                let ctx = IntakeContext {
                    thread: &b,
                    requester: &p,
                    catalog: &c,
                };
                std::hint::black_box(ParserIntake.extract(&ctx).await.expect("parsed"));
            }
        })
        .await;
        println!("1 ms ticker delay while four 40,000-character messages are parsed on 2 workers:");
        println!("  idle               p99 {idle:>9.2?}");
        println!("  parsed inline      p99 {inline_p99:>9.2?}  max {inline_max:>9.2?}");
        println!("  via ParserIntake   p99 {off_p99:>9.2?}  max {off_max:>9.2?}");
    });
}
