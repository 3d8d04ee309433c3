//! Checkout + check-in of a reused socket: `add_request` → `Assign { reused: true }` →
//! `on_free` → back in the free list. With 1 name and with 10,000 names (one warm socket
//! each, requests spread over all of them).

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pier_pool::{Action, Agent, AgentOptions, ConnectOptions, NameId, Release};

/// An agent with one free socket per name, and the names.
fn warm(names: usize, options: AgentOptions) -> (Agent<u32>, Vec<NameId>) {
    let mut agent = Agent::new(options).expect("valid options");
    let now = Instant::now();
    let ids: Vec<NameId> = (0..names)
        .map(|i| {
            agent.name(
                &ConnectOptions::new()
                    .host(format!("host{i}.example"))
                    .port(80),
            )
        })
        .collect();
    for (i, &name) in ids.iter().enumerate() {
        agent.add_request(name, now);
        let Some(Action::Connect { conn, .. }) = agent.poll_action() else {
            panic!("expected a connect");
        };
        agent.connected(conn, i as u32);
        while agent.poll_action().is_some() {}
        agent.on_free(i as u32, Release::keep_alive());
        while agent.poll_action().is_some() {}
    }
    (agent, ids)
}

fn round_trip(agent: &mut Agent<u32>, name: NameId, now: Instant) {
    agent.add_request(name, now);
    let Some(Action::Assign { handle, .. }) = agent.poll_action() else {
        panic!("expected a reused socket");
    };
    agent.on_free(black_box(handle), Release::keep_alive());
    debug_assert!(agent.poll_action().is_none());
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("checkout_checkin");
    group.throughput(Throughput::Elements(1));
    let configs = [
        ("default_agent", AgentOptions::default_agent()),
        (
            "total_capped",
            AgentOptions {
                max_total_sockets: Some(20_000),
                ..AgentOptions::default_agent()
            },
        ),
    ];
    for (label, options) in configs {
        for names in [1usize, 10_000] {
            let (mut agent, ids) = warm(names, options.clone());
            let now = Instant::now();
            let mut next = 0usize;
            group.bench_function(BenchmarkId::new(label, names), |b| {
                b.iter(|| {
                    // A cheap stride over the names so consecutive requests hit
                    // different pools (and different cache lines).
                    next = (next + 7919) % ids.len();
                    round_trip(&mut agent, black_box(ids[next]), now);
                })
            });
        }
    }
    group.finish();

    c.bench_function("name_lookup_existing", |b| {
        let (mut agent, _) = warm(1, AgentOptions::default_agent());
        let options = ConnectOptions::new().host("host0.example").port(80);
        b.iter(|| agent.name(black_box(&options)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
