//! One test per Node Agent rule (A1–A12), then Pier's additions. Expected strings and
//! behaviours were checked against Node 20 (`node -e ...` with `http.Agent`).

mod common;

use std::time::Duration;

use common::{connects, keep_alive, Harness};
use pier_pool::{
    get_name, parse_keep_alive_timeout, Action, AgentOptions, ConnectOptions, FailReason,
    OptionsError, Release, Scheduling,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// node: A1
#[test]
fn a1_get_name_matches_node() {
    let o = ConnectOptions::new;
    // Each right-hand side is what Node 20's `new http.Agent().getName(...)` printed.
    let cases: Vec<(ConnectOptions, &str)> = vec![
        (o(), "localhost::"),
        (
            o().host("a").port(80).local_address("1.2.3.4").family(6),
            "a:80:1.2.3.4:6",
        ),
        (o().host("a").port(80).family(4), "a:80::4"),
        (o().host("a").port(80).family(5), "a:80:"),
        (o().host("a").port(80).family(0), "a:80:"),
        (o().port(80), "localhost:80:"),
        (o().host("").port(80), "localhost:80:"),
        (o().host("a"), "a::"),
        (o().host("a").port(0), "a::"),
        (o().socket_path("/tmp/s.sock"), "localhost:::/tmp/s.sock"),
        (
            o().host("a")
                .port(80)
                .socket_path("/x")
                .family(4)
                .local_address("::1"),
            "a:80:::1:4:/x",
        ),
        (o().host("a").port(80).local_address(""), "a:80:"),
        (o().host("::1").port(443), "::1:443:"),
        (o().host("a").port(80).socket_path(""), "a:80:"),
        // Ports of every width, and zeros inside them.
        (o().host("a").port(1), "a:1:"),
        (o().host("a").port(10), "a:10:"),
        (o().host("a").port(8080), "a:8080:"),
        (o().host("a").port(10001), "a:10001:"),
        (o().host("a").port(65535), "a:65535:"),
    ];
    for (options, expected) in cases {
        assert_eq!(get_name(&options), expected, "{options:?}");
    }

    // The agent interns the same keys.
    let mut h = Harness::new(AgentOptions::default());
    let a = h.agent.name(&o().port(80));
    assert_eq!(h.agent.key(a), "localhost:80:");
    assert_eq!(h.agent.name(&o().host("localhost").port(80)), a);
    assert_eq!(h.agent.lookup("localhost:80:"), Some(a));
    let b = h.agent.name(&o().port(80).family(6));
    assert_ne!(a, b);
}

// node: A2
#[test]
fn a2_agent_options_override_request_options() {
    // Node: `new Agent({port: 1, localAddress: '127.0.0.1'})` with a request to
    // 127.0.0.1:9 files the socket under '127.0.0.1:1:127.0.0.1'.
    let mut h = Harness::new(AgentOptions {
        connect: ConnectOptions::new().port(1).local_address("127.0.0.1"),
        ..AgentOptions::default()
    });
    let name = h
        .agent
        .name(&ConnectOptions::new().host("127.0.0.1").port(9));
    assert_eq!(h.agent.key(name), "127.0.0.1:1:127.0.0.1");
    assert_eq!(
        h.agent.connect_options(name),
        &ConnectOptions::new()
            .host("127.0.0.1")
            .port(1)
            .local_address("127.0.0.1")
    );
    // What the agent leaves unset still comes from the request.
    let merged = ConnectOptions::new()
        .host("r")
        .family(6)
        .overridden_by(&ConnectOptions::new().host("agent"));
    assert_eq!(merged, ConnectOptions::new().host("agent").family(6));
}

// node: A3
#[test]
fn a3_lifo_reuses_newest_and_reports_reused() {
    let mut h = Harness::new(keep_alive());
    let n = h.name("a");
    let (_, s1) = h.open(n);
    let (_, s2) = h.open(n);
    h.agent.on_free(s1, Release::keep_alive());
    h.agent.on_free(s2, Release::keep_alive());
    h.decisions();
    assert_eq!(h.agent.free_sockets(n).collect::<Vec<_>>(), [s1, s2]);
    let r = h.request(n);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r,
            handle: s2,
            reused: true
        }]
    );
    assert_eq!(h.agent.name_stats(n).reused, 1);
    h.ok();
}

// node: A3
#[test]
fn a3_fifo_reuses_oldest() {
    let mut h = Harness::new(AgentOptions {
        scheduling: Scheduling::Fifo,
        ..keep_alive()
    });
    let n = h.name("a");
    let (_, s1) = h.open(n);
    let (_, s2) = h.open(n);
    h.agent.on_free(s1, Release::keep_alive());
    h.agent.on_free(s2, Release::keep_alive());
    h.decisions();
    let r = h.request(n);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r,
            handle: s1,
            reused: true
        }]
    );
    h.ok();
}

// node: A3 (destroyed sockets are skipped; Pier drops them from any position at once)
#[test]
fn a3_destroyed_free_sockets_are_skipped() {
    let mut h = Harness::new(AgentOptions {
        scheduling: Scheduling::Fifo,
        ..keep_alive()
    });
    let n = h.name("a");
    let (_, s1) = h.open(n);
    let (_, s2) = h.open(n);
    h.agent.on_free(s1, Release::keep_alive());
    h.agent.on_free(s2, Release::keep_alive());
    h.decisions();
    // The oldest free socket saw EOF while idle.
    h.agent.mark_unusable(s1);
    assert_eq!(h.decisions(), [Action::Destroy(s1)]);
    let r = h.request(n);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r,
            handle: s2,
            reused: true
        }]
    );
    h.ok();
}

// node: A4
#[test]
fn a4_new_socket_only_under_max_sockets() {
    let mut h = Harness::new(AgentOptions {
        max_sockets: Some(2),
        ..keep_alive()
    });
    let n = h.name("a");
    h.open(n);
    h.request(n);
    assert_eq!(connects(&h.decisions()).len(), 1);
    h.request(n);
    assert_eq!(h.decisions(), [], "third request must queue");
    assert_eq!(h.agent.sockets(n), 2);
    assert_eq!(h.agent.connecting(n), 1);
    assert_eq!(h.agent.requests(n), 1);
    // Free sockets count against the cap too.
    let other = h.name("b");
    h.open(other);
    assert_eq!(h.agent.total_sockets(), 3);
    h.ok();
}

// node: A5
#[test]
fn a5_new_socket_only_under_max_total_sockets() {
    let mut h = Harness::new(AgentOptions {
        max_total_sockets: Some(2),
        ..AgentOptions::default()
    });
    let a = h.name("a");
    let b = h.name("b");
    let c = h.name("c");
    h.open(a);
    h.request(b);
    assert_eq!(connects(&h.decisions()).len(), 1);
    h.request(c);
    assert_eq!(h.decisions(), []);
    assert_eq!(h.agent.requests(c), 1);
    assert_eq!(h.agent.total_sockets(), 2);
    h.ok();

    // Node throws ERR_OUT_OF_RANGE for maxTotalSockets 0.
    let err = pier_pool::Agent::<u32>::new(AgentOptions {
        max_total_sockets: Some(0),
        ..AgentOptions::default()
    })
    .unwrap_err();
    assert_eq!(err, OptionsError::MaxTotalSocketsZero);
}

// node: A6
#[test]
fn a6_per_name_fifo_queue() {
    let mut h = Harness::new(AgentOptions {
        max_sockets: Some(1),
        ..keep_alive()
    });
    let n = h.name("a");
    let (_, s) = h.open(n);
    let r2 = h.request(n);
    let r3 = h.request(n);
    let r4 = h.request(n);
    assert_eq!(h.decisions(), []);
    assert_eq!(h.agent.requests(n), 3);
    assert_eq!(
        h.agent.waiting_requests(n).collect::<Vec<_>>(),
        [r2, r3, r4]
    );
    for r in [r2, r3, r4] {
        h.agent.on_free(s, Release::keep_alive());
        // Node reports reusedSocket=false on this hand-off; Pier says true (the
        // connection did serve before).
        assert_eq!(
            h.decisions(),
            [Action::Assign {
                req: r,
                handle: s,
                reused: true
            }]
        );
    }
    assert_eq!(h.agent.requests(n), 0);
    h.ok();
}

// node: A6 (the hand-off happens even with keep-alive off, as in Node)
#[test]
fn a6_queue_served_without_agent_keep_alive() {
    let mut h = Harness::new(AgentOptions {
        max_sockets: Some(1),
        ..AgentOptions::default()
    });
    let n = h.name("a");
    let (_, s) = h.open(n);
    let r2 = h.request(n);
    h.agent.on_free(s, Release::keep_alive());
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r2,
            handle: s,
            reused: true
        }]
    );
    // No one left waiting and keep-alive is off: destroyed.
    h.agent.on_free(s, Release::keep_alive());
    assert_eq!(h.decisions(), [Action::Destroy(s)]);
    assert_eq!(h.agent.total_sockets(), 0);
    h.ok();
}

// node: A7
#[test]
fn a7_free_or_destroy() {
    // Kept: keep-alive agent, reusable exchange, room in the free list, hook agrees.
    let mut h = Harness::new(AgentOptions {
        max_free_sockets: 1,
        ..keep_alive()
    });
    let n = h.name("a");
    let (_, s1) = h.open(n);
    let (_, s2) = h.open(n);
    let (_, s3) = h.open(n);
    let (_, s4) = h.open(n);
    h.agent.on_free(s1, Release::keep_alive());
    assert_eq!(h.decisions(), []);
    assert_eq!(h.agent.socket(s1).map(|i| i.free), Some(true));
    // Free list full (max_free_sockets = 1).
    h.agent.on_free(s2, Release::keep_alive());
    assert_eq!(h.decisions(), [Action::Destroy(s2)]);
    // The response did not allow keep-alive / the socket is not writable.
    h.agent.on_free(s3, Release::close());
    assert_eq!(h.decisions(), [Action::Destroy(s3)]);
    // The keep-socket-alive hook said no.
    let r = h.request(n);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r,
            handle: s1,
            reused: true
        }]
    );
    h.agent
        .on_free(s1, Release::keep_alive().with_keep_socket_alive(false));
    assert_eq!(h.decisions(), [Action::Destroy(s1)]);
    // A socket marked unusable while active is not kept either.
    h.agent.on_error(s4);
    assert_eq!(h.decisions(), []);
    h.agent.on_free(s4, Release::keep_alive());
    assert_eq!(h.decisions(), [Action::Destroy(s4)]);
    assert_eq!(h.agent.name_stats(n).destroyed, 4);
    h.ok();

    // An agent without keep-alive destroys every finished socket.
    let mut h = Harness::new(AgentOptions::default());
    let n = h.name("a");
    let (_, s) = h.open(n);
    h.agent.on_free(s, Release::keep_alive());
    assert_eq!(h.decisions(), [Action::Destroy(s)]);
    h.ok();
}

// node: A8
#[test]
fn a8_keep_alive_msecs_timeout_and_server_hint() {
    let mut h = Harness::new(AgentOptions {
        keep_alive_msecs: ms(2500),
        timeout: Some(ms(10_000)),
        ..keep_alive()
    });
    let n = h.name("a");
    let r = h.request(n);
    let conn = connects(&h.drain())[0];
    let s = h.connect(conn);
    assert_eq!(
        h.drain(),
        [
            Action::SetKeepAlive {
                handle: s,
                initial_delay: ms(2500)
            },
            Action::SetTimeout {
                handle: s,
                timeout: ms(10_000)
            },
            Action::Assign {
                req: r,
                handle: s,
                reused: false
            },
        ]
    );
    // Node's case: agent timeout 10000 and `Keep-Alive: timeout=5` gives 4000.
    h.agent.on_free(s, Release::keep_alive().with_hint(5));
    assert_eq!(
        h.drain(),
        [Action::SetTimeout {
            handle: s,
            timeout: ms(4000)
        }]
    );
    // Reused: the request runs under the agent's own timeout again.
    let r = h.request(n);
    assert_eq!(
        h.drain(),
        [
            Action::SetTimeout {
                handle: s,
                timeout: ms(10_000)
            },
            Action::Assign {
                req: r,
                handle: s,
                reused: true
            },
        ]
    );
    // A hint above the agent's timeout changes nothing (Node: timeout 3000, hint 5 → 3000).
    h.agent.on_free(s, Release::keep_alive().with_hint(60));
    assert_eq!(h.drain(), []);
    // `timeout=1` leaves 0 ms: Node does not keep the socket.
    h.request(n);
    h.drain();
    h.agent.on_free(s, Release::keep_alive().with_hint(1));
    assert_eq!(h.drain(), [Action::Destroy(s)]);
    h.ok();
}

// node: A8 (no agent timeout: Node ignores the hint, Pier applies it unless told not to)
#[test]
fn a8_hint_without_agent_timeout() {
    for (node_exact, expected) in [
        (
            false,
            vec![Action::SetTimeout {
                handle: 1,
                timeout: ms(4000),
            }],
        ),
        (true, vec![]),
    ] {
        let mut h = Harness::new(AgentOptions {
            hint_without_timeout: !node_exact,
            ..keep_alive()
        });
        let n = h.name("a");
        let (_, s) = h.open(n);
        let (_, s2) = h.open(n);
        assert_eq!(s, 1);
        h.agent.on_free(s, Release::keep_alive().with_hint(5));
        assert_eq!(h.drain(), expected);
        assert_eq!(h.agent.free_sockets(n).len(), 1);
        // `timeout=0` is never kept.
        h.agent.on_free(s2, Release::keep_alive().with_hint(0));
        assert_eq!(h.drain(), [Action::Destroy(s2)]);
        h.ok();
    }
}

// node: A9
#[test]
fn a9_free_socket_error_and_timeout() {
    let mut h = Harness::new(AgentOptions::default_agent());
    let n = h.name("a");
    let (_, s1) = h.open(n);
    let (_, s2) = h.open(n);
    // An active socket's timeout is its request's business: not destroyed.
    h.agent.on_timeout(s1);
    assert_eq!(h.drain(), []);
    h.agent.on_free(s1, Release::keep_alive());
    h.agent.on_free(s2, Release::keep_alive());
    h.drain();
    // Free and timed out: destroyed.
    h.agent.on_timeout(s1);
    assert_eq!(h.drain(), [Action::Destroy(s1)]);
    assert_eq!(h.agent.name_stats(n).free_timeouts, 1);
    // Free and errored: destroyed and removed.
    h.agent.on_error(s2);
    assert_eq!(h.drain(), [Action::Destroy(s2)]);
    assert_eq!(h.agent.free_sockets(n).len(), 0);
    assert_eq!(h.agent.socket(s2), None);
    // Late events for forgotten sockets are ignored.
    h.agent.on_close(s2);
    h.agent.on_timeout(s2);
    assert_eq!(h.drain(), []);
    h.ok();
}

// node: A10
#[test]
fn a10_close_gives_the_same_name_a_new_socket() {
    let mut h = Harness::new(AgentOptions {
        max_sockets: Some(1),
        ..keep_alive()
    });
    let n = h.name("a");
    let (_, s) = h.open(n);
    let r2 = h.request(n);
    assert_eq!(h.decisions(), []);
    h.agent.on_close(s);
    let conn = match h.decisions().as_slice() {
        [Action::Connect { conn, name }] if *name == n => *conn,
        other => panic!("{other:?}"),
    };
    let s2 = h.connect(conn);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r2,
            handle: s2,
            reused: false
        }]
    );
    h.ok();
}

// node: A10
#[test]
fn a10_close_hands_off_to_first_other_name_in_queue_order() {
    let mut h = Harness::new(AgentOptions {
        max_total_sockets: Some(1),
        ..AgentOptions::default()
    });
    let a = h.name("a");
    let b = h.name("b");
    let c = h.name("c");
    let (_, s) = h.open(a);
    // Queues form in the order c, then b (not the order the names were resolved).
    let rc = h.request(c);
    let rb = h.request(b);
    assert_eq!(h.decisions(), []);
    h.agent.on_close(s);
    let conn = match h.decisions().as_slice() {
        [Action::Connect { conn, name }] if *name == c => *conn,
        other => panic!("expected a connect for c, got {other:?}"),
    };
    let sc = h.connect(conn);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: rc,
            handle: sc,
            reused: false
        }]
    );
    assert_eq!(h.agent.requests(b), 1);
    // c's socket finishes (keep-alive off): destroyed, and b is next.
    h.agent.on_free(sc, Release::keep_alive());
    let actions = h.decisions();
    assert_eq!(actions[0], Action::Destroy(sc));
    assert!(matches!(actions[1], Action::Connect { name, .. } if name == b));
    let sb = h.connect(connects(&actions)[0]);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: rb,
            handle: sb,
            reused: false
        }]
    );
    h.ok();
}

// node: A10 (divergence: Node only looks at the first queued name and gives up if it has
// any socket; checked with Node 20, where B then waited for A's whole exchange)
#[test]
fn a10_slot_goes_to_first_queued_name_under_its_own_cap() {
    let mut h = Harness::new(AgentOptions {
        max_total_sockets: Some(2),
        max_sockets: Some(2),
        ..AgentOptions::default()
    });
    let c = h.name("c");
    let a = h.name("a");
    let b = h.name("b");
    let (_, sc) = h.open(c);
    let (_, _sa) = h.open(a);
    let ra2 = h.request(a);
    let rb = h.request(b);
    assert_eq!(h.decisions(), []);
    // c finishes; keep-alive is off so its socket goes, and a (first in queue order, one
    // socket of its two allowed) gets the slot.
    h.agent.on_free(sc, Release::keep_alive());
    let actions = h.decisions();
    assert_eq!(actions[0], Action::Destroy(sc));
    assert!(matches!(actions[1..], [Action::Connect { name, .. }] if name == a));
    let sa2 = h.connect(connects(&actions)[0]);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: ra2,
            handle: sa2,
            reused: false
        }]
    );
    assert_eq!(h.agent.requests(b), 1);
    assert_eq!(h.agent.waiting_requests(b).collect::<Vec<_>>(), [rb]);
    h.ok();
}

// node: A11
#[test]
fn a11_destroy_and_observability() {
    let mut h = Harness::new(AgentOptions {
        max_sockets: Some(2),
        ..keep_alive()
    });
    let a = h.name("a");
    let b = h.name("b");
    let (_, s1) = h.open(a);
    let (_, s2) = h.open(a);
    let (_, s3) = h.open(b);
    h.agent.on_free(s3, Release::keep_alive());
    let r = h.request(a);
    h.request(b);
    let pending = connects(&h.decisions());
    assert_eq!(pending.len(), 0, "b reused its free socket");
    assert_eq!(h.agent.sockets(a), 2);
    assert_eq!(h.agent.active_sockets(a), [s1, s2]);
    assert_eq!(h.agent.requests(a), 1);
    assert_eq!(h.agent.sockets(b), 1);
    assert_eq!(h.agent.free_sockets(b).len(), 0);
    h.agent.on_free(s3, Release::keep_alive());
    h.agent.on_close(s2);
    let conn = connects(&h.decisions())[0];
    assert_eq!(h.agent.sockets(a), 2, "one active, one connecting");
    assert_eq!(h.agent.free_sockets(b).collect::<Vec<_>>(), [s3]);

    h.agent.destroy();
    assert_eq!(
        h.drain(),
        [
            Action::Destroy(s3),
            Action::Destroy(s1),
            Action::AbortConnect(conn),
            Action::Failed {
                req: r,
                reason: FailReason::AgentDestroyed
            },
        ]
    );
    assert_eq!(h.agent.total_sockets(), 0);
    h.ok();
    // A late report about the abandoned attempt destroys the socket it brings.
    h.agent.connected(conn, 99);
    assert_eq!(h.drain(), [Action::Destroy(99)]);
    // The agent is still usable.
    h.open(a);
    h.ok();
}

// node: A12
#[test]
fn a12_default_agent_and_plain_agent() {
    let plain = AgentOptions::default();
    assert!(!plain.keep_alive);
    assert_eq!(plain.keep_alive_msecs, ms(1000));
    assert_eq!(plain.max_sockets, None);
    assert_eq!(plain.max_total_sockets, None);
    assert_eq!(plain.max_free_sockets, 256);
    assert_eq!(plain.scheduling, Scheduling::Lifo);
    assert_eq!(plain.timeout, None);

    let global = AgentOptions::default_agent();
    assert!(global.keep_alive);
    assert_eq!(global.scheduling, Scheduling::Lifo);
    assert_eq!(global.timeout, Some(Duration::from_secs(5)));

    // The default agent keeps a finished socket with a 5 s timeout.
    let mut h = Harness::new(global);
    let n = h.name("a");
    let (_, s) = h.open(n);
    h.agent.on_free(s, Release::keep_alive());
    assert_eq!(h.drain(), []);
    assert_eq!(h.agent.free_sockets(n).len(), 1);
}

// ----- beyond Node ---------------------------------------------------------------------

#[test]
fn options_are_validated() {
    let bad = |o: AgentOptions| pier_pool::Agent::<u32>::new(o).unwrap_err();
    let d = AgentOptions::default;
    assert_eq!(
        bad(AgentOptions {
            max_sockets: Some(0),
            ..d()
        }),
        OptionsError::MaxSocketsZero
    );
    assert_eq!(
        bad(AgentOptions {
            keep_alive_msecs: Duration::ZERO,
            ..d()
        }),
        OptionsError::KeepAliveMsecsZero
    );
    assert_eq!(
        bad(AgentOptions {
            timeout: Some(Duration::ZERO),
            ..d()
        }),
        OptionsError::TimeoutZero
    );
    assert_eq!(
        bad(AgentOptions {
            queue_timeout: Some(Duration::ZERO),
            ..d()
        }),
        OptionsError::QueueTimeoutZero
    );
    assert!(!OptionsError::MaxSocketsZero.to_string().is_empty());
}

#[test]
fn cancel_leaves_the_queue_at_once() {
    let mut h = Harness::new(AgentOptions {
        max_sockets: Some(1),
        ..keep_alive()
    });
    let n = h.name("a");
    let (_, s) = h.open(n);
    let r2 = h.request(n);
    let r3 = h.request(n);
    assert!(h.agent.cancel(r2));
    assert!(!h.agent.cancel(r2));
    assert_eq!(h.agent.requests(n), 1);
    assert_eq!(h.agent.waiting_requests(n).collect::<Vec<_>>(), [r3]);
    h.agent.on_free(s, Release::keep_alive());
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r3,
            handle: s,
            reused: true
        }]
    );
    assert_eq!(h.agent.stats().cancelled, 1);
    h.ok();
}

#[test]
fn cancelled_request_leaves_its_connection_to_the_next() {
    let mut h = Harness::new(keep_alive());
    let n = h.name("a");
    let r1 = h.request(n);
    let c1 = connects(&h.decisions())[0];
    assert!(h.agent.cancel(r1));
    // The attempt already running covers the next request; no second connect.
    let r2 = h.request(n);
    assert_eq!(h.decisions(), []);
    let s = h.connect(c1);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r2,
            handle: s,
            reused: false
        }]
    );
    // And an attempt nobody needs any more lands in the free list.
    let r3 = h.request(n);
    let c2 = connects(&h.decisions())[0];
    h.agent.cancel(r3);
    let s2 = h.connect(c2);
    assert_eq!(h.decisions(), []);
    assert_eq!(h.agent.free_sockets(n).collect::<Vec<_>>(), [s2]);
    h.ok();
}

#[test]
fn queue_timeout_fails_waiting_requests() {
    let mut h = Harness::new(AgentOptions {
        max_sockets: Some(1),
        queue_timeout: Some(ms(100)),
        ..keep_alive()
    });
    let n = h.name("a");
    let start = h.clock.now();
    let (_, s) = h.open(n);
    h.clock.advance(ms(10));
    let r2 = h.request(n);
    h.clock.advance(ms(10));
    let r3 = h.request(n);
    assert_eq!(h.agent.poll_timeout(), Some(start + ms(110)));
    h.clock.advance(ms(89));
    h.agent.handle_timeout(h.clock.now());
    assert_eq!(h.drain(), []);
    h.clock.advance(ms(1));
    h.agent.handle_timeout(h.clock.now());
    assert_eq!(
        h.drain(),
        [Action::Failed {
            req: r2,
            reason: FailReason::QueueTimeout
        }]
    );
    assert_eq!(h.agent.poll_timeout(), Some(start + ms(120)));
    h.agent.on_free(s, Release::keep_alive());
    h.drain();
    assert_eq!(h.agent.poll_timeout(), None, "r3 was served");
    let _ = r3;
    assert_eq!(h.agent.stats().queue_timeouts, 1);
    h.ok();
}

#[test]
fn failed_connect_fails_oldest_and_hands_slot_on() {
    let mut h = Harness::new(AgentOptions {
        max_sockets: Some(1),
        ..keep_alive()
    });
    let n = h.name("a");
    let r1 = h.request(n);
    let r2 = h.request(n);
    let c1 = connects(&h.decisions())[0];
    h.agent.connect_failed(c1);
    let actions = h.decisions();
    assert_eq!(
        actions[0],
        Action::Failed {
            req: r1,
            reason: FailReason::ConnectFailed(c1)
        }
    );
    let c2 = match actions[1..] {
        [Action::Connect { conn, name }] if name == n => conn,
        _ => panic!("{actions:?}"),
    };
    let s = h.connect(c2);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r2,
            handle: s,
            reused: false
        }]
    );
    assert_eq!(h.agent.stats().connect_failures, 1);
    h.ok();
}

#[test]
fn failed_connect_fails_nobody_when_another_attempt_covers() {
    let mut h = Harness::new(keep_alive());
    let n = h.name("a");
    let r1 = h.request(n);
    let r2 = h.request(n);
    let cs = connects(&h.decisions());
    assert!(h.agent.cancel(r2));
    h.agent.connect_failed(cs[0]);
    assert_eq!(h.decisions(), []);
    let s = h.connect(cs[1]);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r1,
            handle: s,
            reused: false
        }]
    );
    h.ok();
}

#[test]
fn connections_finishing_out_of_order_keep_fifo() {
    let mut h = Harness::new(keep_alive());
    let n = h.name("a");
    let r1 = h.request(n);
    let r2 = h.request(n);
    let cs = connects(&h.decisions());
    let s = h.connect(cs[1]);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r1,
            handle: s,
            reused: false
        }]
    );
    let s2 = h.connect(cs[0]);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: r2,
            handle: s2,
            reused: false
        }]
    );
    h.ok();
}

#[test]
fn idle_socket_never_strands_another_name_under_total_cap() {
    // Node would leave b waiting until a's idle socket times out (or, when a socket is
    // freed, open one over the cap). Pier evicts the idle socket.
    let mut h = Harness::new(AgentOptions {
        max_total_sockets: Some(1),
        ..keep_alive()
    });
    let a = h.name("a");
    let b = h.name("b");
    let (_, s) = h.open(a);
    h.agent.on_free(s, Release::keep_alive());
    assert_eq!(h.decisions(), []);
    let rb = h.request(b);
    let actions = h.decisions();
    assert_eq!(actions[0], Action::Destroy(s));
    assert!(matches!(actions[1], Action::Connect { name, .. } if name == b));
    assert_eq!(h.agent.stats().evicted, 1);
    let sb = h.connect(connects(&actions)[0]);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: rb,
            handle: sb,
            reused: false
        }]
    );
    assert_eq!(h.agent.total_sockets(), 1);

    // A socket freed while another name waits at the cap is let go for it.
    let ra = h.request(a);
    assert_eq!(h.decisions(), []);
    h.agent.on_free(sb, Release::keep_alive());
    let actions = h.decisions();
    assert_eq!(actions[0], Action::Destroy(sb));
    let sa = h.connect(connects(&actions)[0]);
    assert_eq!(
        h.decisions(),
        [Action::Assign {
            req: ra,
            handle: sa,
            reused: false
        }]
    );
    h.ok();
}

#[test]
fn detach_frees_the_slot_without_destroying() {
    let mut h = Harness::new(AgentOptions {
        max_sockets: Some(1),
        ..keep_alive()
    });
    let n = h.name("a");
    let (_, s) = h.open(n);
    h.request(n);
    h.agent.detach(s);
    let actions = h.decisions();
    assert!(matches!(actions[..], [Action::Connect { .. }]));
    assert_eq!(h.agent.socket(s), None);
    assert_eq!(h.agent.stats().detached, 1);
    h.ok();
}

#[test]
fn stats_are_kept_per_name_and_in_total() {
    let mut h = Harness::new(keep_alive());
    let a = h.name("a");
    let b = h.name("b");
    let (_, s) = h.open(a);
    h.agent.on_free(s, Release::keep_alive());
    h.request(a);
    h.decisions();
    h.open(b);
    let sa = h.agent.name_stats(a);
    assert_eq!(
        (
            sa.requests,
            sa.connects,
            sa.connected,
            sa.assigned_new,
            sa.reused
        ),
        (2, 1, 1, 1, 1)
    );
    let t = h.agent.stats();
    assert_eq!((t.requests, t.connects, t.reused), (3, 2, 1));
}

#[test]
fn keep_alive_header_parsing() {
    // Node's own reading: `timeout=` at the start, leading digits.
    assert_eq!(parse_keep_alive_timeout(b"timeout=5"), Some(5));
    assert_eq!(parse_keep_alive_timeout(b"timeout=5, max=100"), Some(5));
    assert_eq!(parse_keep_alive_timeout(b"timeout=2.5"), Some(2));
    assert_eq!(parse_keep_alive_timeout(b"timeout=0"), Some(0));
    assert_eq!(parse_keep_alive_timeout(b"timeout=abc"), None);
    assert_eq!(parse_keep_alive_timeout(b""), None);
    // Pier also reads it later in the list and in any case (Node ignores these).
    assert_eq!(parse_keep_alive_timeout(b"max=5, timeout=3"), Some(3));
    assert_eq!(parse_keep_alive_timeout(b"Timeout=3"), Some(3));
    assert_eq!(
        parse_keep_alive_timeout(b"timeout=99999999999999999999999"),
        Some(u64::MAX)
    );
}
