// What `refx-bench --help` says of a run and its rows (each figure, what
// bounds it) and of its exit codes; --overload's and --soak's paragraphs are
// beside their runs (overload.h, soak.h).
#ifndef REFX_BENCH_BENCH_HELP_H_
#define REFX_BENCH_BENCH_HELP_H_

namespace refx::bench {

inline constexpr char kRunHelp[] = R"(
What it does, in one run:
  1. makes a throwaway PKI (every agency of the partnership) and a fresh
     database in a temporary directory; starts refx-server and
     refx-bench-echo (a bare gRPC echo with refx-server's TLS settings) as
     child processes on loopback ports picked by the kernel;
  2. for each workload and each --in-flight level: a warm-up, then a
     measured closed loop (each finished call starts the next one);
  3. prints a table (or JSON with --output json) and removes everything.

The figures, per row:
  calls/s        successful calls / wall time (first start to last finish).
  p50/p99/p999   client-side latency of successful calls, in ms.
  srv CPU us/op  user+system CPU of the server process (/proc/PID/stat) over
                 the measured loop / calls. Tick resolution is 10 ms, so short
                 --quick runs are coarse. "-" for a server given by --server.
  vs ceil        calls/s / the ceiling's calls/s at the same in-flight level,
                 measured in the same run: echo for calls, connect_echo for
                 connections. Absolute rates swing 2-3x on a shared machine;
                 ratios much less.

The workloads and what bounds each:
  echo             bench.v1.Echo on refx-bench-echo: mTLS, HTTP/2 framing,
                   protobuf, gRPC's callback server; payload sized like a
                   referral. Bounded by TLS record crypto + HTTP/2 + syscalls,
                   and on 2 cores by sharing them with this client.
  fsync_floor      4 KiB written + fdatasync, one at a time, in the database's
                   directory, no refx: the floor under a durable write.
  create_referral  CreateReferral, answered after its commit is fsynced (WAL,
                   synchronous=FULL): one fsync per batch of the calls in
                   flight (group commit), the single writer thread,
                   validation, idempotency lookup, logging.
  sqlite_ceiling   the rows refx-server wrote for one of its creates, copied
                   by a bare SQLite loop in this process with refx's own
                   statements, 'in flight' creates per commit: the storage
                   ceiling of create_referral on this disk.
  get_referral     GetReferral of seeded referrals (the sender reads): record
                   gate, SQLite read on a reader connection, decode and
                   serialize the referral, the work-pool hop, logging.
  list_referrals   ListReferrals page_size 50 over all stored referrals
                   (--seed), each slot walking pages with next_page_token
                   from the newest, so the slots read much the same pages:
                   one range read of 50 rows, each referral rendered for the
                   reader's view once and then served from the server's
                   render cache while its stored document is unchanged
                   (limits.list_render_cache_entries), serializing 50.
  list_page_1, list_page_deep
                   the same page every call, at the highest --in-flight:
                   the newest page, and page 1,000 (or the deepest stored),
                   reached once beforehand by walking the page tokens: a
                   page must cost the same at any depth.
  connect_*        a fresh channel (own subchannel pool: no shared connection)
                   + one call (WhoAmI on refx, Echo on echo) per operation:
                   TCP + TLS 1.3 handshake with ECDSA P-256 on both sides,
                   HTTP/2 setup. Bounded by handshake crypto; refx adds its
                   agency verifier in the handshake.
  accept_referral  AcceptReferral (REQUESTED -> ACCEPTED) by the recipient
                   agency (--recipient) on referrals created for it just
                   before each level, outside the warm-up and measured loop,
                   each with its etag and a unique request_id. Durable like
                   create: etag check, the transition and its ALTERATION
                   audit event in one fsynced transaction.
  watch_fanout     WatchReferrals: per tier (--watch-subscribers, opened on
                   top of the previous tier's streams, all as the recipient
                   agency with start_at_head, callback client API, up to 100
                   connections), the server's VmRSS growth per 1,000 idle
                   streams; then --watch-rate referrals/s created for
                   --watch-seconds, each event matched to its create by
                   referral name. "in flight" is subscribers, calls/s is
                   deliveries/s (subscribers x rate while it keeps up),
                   latency is from just before the CreateReferral is sent to
                   the event's arrival, srv CPU is per delivery. Each event
                   is rendered once per view and a batch sent alike to an
                   agency's streams shares one durable audit event, so this
                   is bounded by gRPC's transport per message per stream.
                   No ratio: judged against the issue's targets instead.

--only runs some groups (echo, create, connect, get, list, transition,
watch), e.g. --only echo,transition or --only watch.

Capabilities: the record gate always; agreement enforcement, audit and
encryption at rest are reported active when the started refx-server names
them in its server_started log event (audit also when it creates its audit
key on the fresh database), "not yet" otherwise (their cost shows
in these figures once they land).

Seeding: ListReferrals needs --seed stored referrals (100k by default),
created through the API at 64 in flight before Get/List; its rate and time
are reported. --quick: 0.2 s warm-up, 0.4 s per row, 2,000 referrals; it
proves the benchmark works, its figures are too short to compare.

Examples:
  refx-bench                                  full run, about 6 minutes
  refx-bench --quick --output json            what CI runs
  refx-bench --only watch                     the fan-out rows only
  refx-bench --server localhost:50051 --ca-file dev-pki/root-ca.pem \
      --cert-file dev-pki/agencies/leicestershire-police.pem \
      --key-file dev-pki/agencies/leicestershire-police.key
                                              an existing server (it gets
                                              --seed new referrals!)
)";

// The footer's last paragraph, after those of --overload and --soak.
inline constexpr char kExitCodesHelp[] = R"(
Exit codes: 0 done (rows whose calls failed, e.g. DEADLINE_EXCEEDED under
overload, are reported with their errors), 1 setup failed, 2 usage,
3 the soak or overload verdict failed, 130 interrupted.)";

}  // namespace refx::bench

#endif  // REFX_BENCH_BENCH_HELP_H_
