#include "gateway/roles/gateway/gateway.h"

#include <capnp/message.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/audit/audit.h"
#include "gateway/common/hex.h"
#include "gateway/common/limits.h"
#include "gateway/envelope/envelope.h"
#include "gateway/ingest/ingest.h"
#include "gateway/link/link.h"
#include "gateway/node/metric_table.h"
#include "gateway/node/node_common.h"
#include "gateway/node/store_keys.h"
#include "gateway/node/trust_pin.h"
#include "gateway/policy/policy.h"
#include "gateway/quarantine/quarantine.h"
#include "gateway/recovery/recovery.h"
#include "gateway/roles/gateway/guard_port.h"
#include "gateway/roles/gateway/tuning.h"
#include "gateway/sentlog/sentlog.h"
#include "gateway/signatory/signatory.h"
#include "schemas/guard.capnp.h"

namespace cg::node {
namespace {

void log_line(const std::string& node, const std::string& what) {
  std::fprintf(stderr, "[%s] %s\n", node.c_str(), what.c_str());
}

namespace tuning = gateway_tuning;

// What the gateway counts, as Prometheus rows, in the order of its exposition (names, labels
// and help texts are docs/OPERATIONS.md's).
std::vector<MetricRow> metric_rows(const GatewayCounters& c,
                                   const std::atomic<std::uint64_t>& resends_queued,
                                   const std::atomic<std::uint64_t>& rules_version) {
  const std::string items = "Items judged per destination, by decision.";
  return {
      counter_row("cellgate_gateway_decisions_total", items, c.released, {"decision", "released"}),
      counter_row("cellgate_gateway_decisions_total", items, c.blocked, {"decision", "blocked"}),
      counter_row("cellgate_gateway_decisions_total", items, c.quarantined,
                  {"decision", "quarantined"}),
      counter_row("cellgate_gateway_guard_refused_total",
                  "Items the filter released and the release guard refused (quarantined with "
                  "both verdicts; counted in quarantined too).",
                  c.guard_refused),
      counter_row("cellgate_gateway_guard_errors_total",
                  "Requests to the release guard that failed (no answer, refused whole, "
                  "malformed); the releases wait in the hand-off and are asked again.",
                  c.guard_errors),
      counter_row("cellgate_gateway_waits_for_guard_total",
                  "Pipeline passes that judged nothing: the hand-off to the guard was full.",
                  c.waits_for_guard),
      counter_row("cellgate_gateway_redacted_total",
                  "Released items that were redacted on the way (a subset of released).",
                  c.redacted),
      counter_row("cellgate_gateway_items_judged_total", "Items taken from the inbox and judged.",
                  c.items_judged),
      counter_row("cellgate_gateway_envelopes_sent_total", "Envelopes handed to the one-way link.",
                  c.envelopes_sent),
      counter_row("cellgate_gateway_batches_total", "Batch signatures made.", c.batches),
      counter_row("cellgate_gateway_epochs_started_total", "Epoch keys started.", c.epochs_started),
      counter_row("cellgate_gateway_waits_no_bundle_total",
                  "Pipeline passes that judged nothing: no usable approved rules bundle.",
                  c.waits_no_bundle),
      counter_row("cellgate_gateway_pipeline_errors_total", "Pipeline passes that failed.",
                  c.pipeline_errors),
      counter_row("cellgate_gateway_resent_after_restart_total",
                  "Envelopes sent again after a restart.", c.resent_after_restart),
      counter_row("cellgate_gateway_reports_out_total",
                  "This party's receivers' reports judged for release (gap ranges, tree heads).",
                  c.reports_out),
      counter_row("cellgate_gateway_reports_released_total",
                  "Of them released (a subset of the released decisions).", c.reports_released),
      counter_row("cellgate_gateway_gap_reports_total",
                  "Other parties' receiver reports about this gateway's envelopes, verified.",
                  c.gap_reports_received),
      counter_row("cellgate_gateway_gap_reports_refused_total",
                  "Receiver reports refused (malformed, unknown reporter, bad signature).",
                  c.gap_reports_refused),
      counter_row("cellgate_gateway_gap_seqs_requested_total",
                  "Sequence numbers receivers reported missing.", c.gap_seqs_requested),
      counter_row("cellgate_gateway_resent_for_gaps_total",
                  "Envelopes re-sent, unchanged, to fill receivers' gaps.", c.resent_for_gaps),
      counter_row("cellgate_gateway_gap_unrecoverable_total",
                  "Reported-missing envelopes older than the sent log keeps (alarm).",
                  c.gap_unrecoverable),
      gauge_row("cellgate_gateway_guard_backlog",
                "Releases handed to the release guard and not yet answered and sent.",
                c.guard_backlog),
      gauge_row("cellgate_gateway_resends_queued", "Envelopes waiting to be re-sent for a gap.",
                resends_queued),
      gauge_row("cellgate_rules_bundle_version", "Version of the approved rules bundle in use.",
                rules_version),
  };
}

// What ingest and the approver count, after the gateway's own rows.
std::vector<MetricRow> ingest_rows(const ingest::Counters& ic, const approval::Counters& ac) {
  const std::string rej = "Items refused at ingest, by reason.";
  std::vector<MetricRow> rows = {
      counter_row("cellgate_ingest_received_total", "Items received from sources.", ic.received),
      counter_row("cellgate_ingest_accepted_total", "Items stored and acknowledged.", ic.accepted),
      counter_row("cellgate_ingest_rejected_total", rej, ic.rejected_malformed,
                  {"reason", "malformed"}),
      counter_row("cellgate_ingest_rejected_total", rej, ic.rejected_too_large,
                  {"reason", "too_large"}),
      counter_row("cellgate_ingest_rejected_total", rej, ic.rejected_unknown_source,
                  {"reason", "unknown_source"}),
      counter_row("cellgate_ingest_rejected_total", rej, ic.rejected_overloaded,
                  {"reason", "overloaded"}),
      counter_row("cellgate_ingest_auth_failures_total",
                  "Source connections refused: CURVE key not configured.", ic.auth_failures),
      counter_row("cellgate_rules_bundle_accepted_total", "Rules bundles accepted.", ac.accepted),
  };
  for (std::size_t i = 0; i < approval::refusal_count; ++i) {
    std::string reason(approval::to_string(static_cast<approval::Refusal>(i)));
    std::replace(reason.begin(), reason.end(), ' ', '_');  // "below threshold" → below_threshold
    rows.push_back(counter_row("cellgate_rules_bundle_refused_total",
                               "Rules bundles refused, by reason.", ac.refused[i],
                               {"reason", reason}));
  }
  rows.push_back(counter_row("cellgate_ingest_backpressure_waits_total",
                             "Times ingest stopped reading because the inbox was full.",
                             ic.backpressure_waits));
  return rows;
}

}  // namespace

struct GatewayNode::Impl {
  config::NodeConfig config;
  const Clock* clock = nullptr;
  // Refusals a peer can cause (bad MACs, refused keys, refused releases), logged rate-limited;
  // declared before what logs into it, so it is destroyed after.
  std::optional<RateLimitedLog> events;
  const crypto::Suite* suite = nullptr;
  // Only without a separate guard ([guard] in the config): the key of this process's own
  // signatory. With one, this process holds no key the relay accepts.
  std::unique_ptr<crypto::SigningKey> signing_key;
  std::optional<approval::TrustRoot> root;
  std::optional<PinnedRoot> root_pinned;  // what the start did with it (audited)
  std::unique_ptr<store::Env> env;
  std::optional<ingest::Inbox> inbox;
  std::optional<sentlog::SentLog> sent;
  std::optional<quarantine::Quarantine> held;
  std::optional<audit::AuditLog> audit_log;
  std::unique_ptr<approval::Approver> approver;
  std::unique_ptr<ingest::Server> ingest_server;
  std::optional<crypto::Secret> link_key;
  std::unique_ptr<link::UdpSender> link_tx;
  store::Table epochs_out;  // party \0 be64(epoch) → the signed announcement
  store::Table marks;       // "wire/" party → be64(seq): sent envelopes surely on the wire
  // Releases waiting for the guard's answer: be64(hand-off id) → GuardHandOff. The ids
  // ("handoff/next" in marks) never repeat; "handoff/done" is the highest one answered.
  store::Table handoffs;
  std::uint64_t handoff_next = 0, handoff_done = 0;
  std::unique_ptr<signatory::Signatory> own_signatory;  // without a separate guard
  std::unique_ptr<GuardPort> guard_port;
  std::int64_t housekept_ns = 0;
  // The approved bundle in use goes to the relay after every change and every 30 s.
  std::atomic<bool> bundle_changed{true};
  std::int64_t bundle_sent_ns = 0;
  std::thread pipeline;
  std::atomic<bool> stopping{false};
  GatewayCounters counters;
  std::atomic<std::uint64_t> rules_version_in_use{0};

  // Per destination party: the current epoch (the guard's; 0 before the first) and its
  // announcement.
  struct Stream {
    std::uint64_t epoch = 0;
    std::vector<std::uint8_t> announcement;  // of `epoch`, repeated every reannounce_every_ns
    std::int64_t announced_ns = 0;           // monotonic
    WireMark mark;  // this party's seqs, mapped from the link's own numbering
    std::uint64_t mark_stored = 0;
    std::int64_t head_sent_ns = 0;  // the last stream head (monotonic)
  };
  std::map<std::string, Stream> streams;  // pipeline thread only

  struct NewEpoch {
    std::string party;
    std::uint64_t epoch;
    std::vector<std::uint8_t> announcement;
  };

  std::uint64_t link_seq = 0;  // the link's numbering: first sends and re-sends alike
  // Envelopes a receiver of another party reported missing, waiting to be re-sent (rate-limited).
  recovery::ResendQueue resends;
  std::atomic<std::uint64_t> resends_queued{0};  // resends.queued(), for the metrics thread
  std::optional<ErrorLog> errors;                // the pipeline thread's
  // Why no rules bundle is usable, as last logged; empty while one is (the pipeline thread's).
  std::string bundle_refusal;
  // From the start of the pass that judged an item to its envelope's hand-off to the link.
  metrics::Histogram judged_to_sent = metrics::Histogram::latency();
  NodeMetrics metrics;  // last: destroyed (its server stopped) before what it reads

  // Wiring, in order: the node's identity (keys, trust root, destinations), its store and
  // tables, the link, then ingest (nothing is accepted before everything behind it works).
  Status load();
  Status load_identity();
  Status open_store();
  Status open_link();
  Status start_ingest();
  Status register_metrics();
  void run();

  // One envelope to hand to the link once the pass's transaction has committed.
  struct Out {
    std::string party;
    std::uint64_t seq;
    schema::Precedence precedence;
    std::vector<std::uint8_t> bytes;
  };
  // What the stages of one pipeline pass's first half share: its time, the bundle that
  // judges, the one transaction everything is written in.
  struct Pass {
    std::int64_t now = 0;
    std::shared_ptr<const approval::Bundle> bundle;
    const policy::Policy& rules;
    store::WriteTxn& txn;
    std::set<std::uint64_t> taken_now;  // FLASH items judged
    policy::Decision decision;          // reused from one decision to the next
    bool report = false;                // the item judged is this party's receiver's report
    std::vector<bool> removed;          // likewise
  };
  // One pipeline pass; false when there was nothing to do. Its halves:
  //  1. the usable bundle; reviewers' decisions on held items (review); every item for every
  //     destination (judge, judge_for): blocked and held items audited, released ones handed
  //     off (hand_off) — ONE commit, which also consumes the inbox entries;
  //  2. what waits in the hand-off goes to the guard (deliver), whose answers — envelopes it
  //     signed, or refusals, held with both verdicts — are stored and audited in ONE commit;
  //     then the link (send).
  // Half 1 is skipped while the hand-off holds limits::guard_handoff_max releases (the guard
  // is down or slow): ingest then fills the inbox and pushes back on the sources.
  Result<bool> pass();
  Result<bool> judge_pass(const std::shared_ptr<const approval::Bundle>& bundle, std::int64_t now);
  // The bundle to judge by; null when none is usable (counted every pass, logged once per
  // change of state).
  Result<std::shared_ptr<const approval::Bundle>> usable_bundle(std::int64_t now);
  // A reviewer's signed decision on a held item: verified by Quarantine::authorize (a reviewer
  // of this party, over this hold, item and destination — and a reject's reason), applied,
  // audited with the reviewer's name, and answered with a verdict the command waits for.
  Status review(Pass& p, const quarantine::Quarantine::Request& r);
  Status apply_reject(Pass& p, const quarantine::Quarantine::Request& r, audit::Event& ev,
                      const std::string& who);
  // The item and destination of a hold, into its audit event (which views them: the returned
  // item and `h` must outlive its use).
  Result<wire::Message<schema::Item>> describe_held(audit::Event& ev, const quarantine::Held& h);
  Status count_approval(Pass& p, const quarantine::Quarantine::Request& r, audit::Event& ev,
                        const std::string& reviewer, const std::string& so_far);
  Status apply_release(Pass& p, const quarantine::Quarantine::Request& r,
                       const quarantine::Quarantine::ReleaseProgress& progress,
                       schema::Item::Reader item, audit::Event& ev, const std::string& who);
  // A refused decision: audited, logged, counted, answered; the item stays held as it was.
  Status refuse_review(Pass& p, const quarantine::Quarantine::Request& r, audit::Event& ev,
                       const std::string& why);
  // One inbox entry judged for every destination that has a receiver (a receiver report is
  // first taken as one: take_report).
  Status judge(Pass& p, policy::Evaluator& evaluator, const ingest::InboxEntry& entry);
  // One decision for destination `di`: blocked or held for a reviewer (audited), or released
  // (redacted if it must be) and handed off to the guard. True when handed off.
  Result<bool> judge_for(Pass& p, policy::Evaluator& evaluator, const ingest::InboxEntry& entry,
                         schema::Item::Reader item, std::uint32_t di);
  // What a release hands to the guard, kept in the pass's transaction until it is answered.
  struct HandOff {
    std::string destination, party;  // the policy's destination id, its party
    std::span<const std::uint8_t> item_id, original, released;
    const std::vector<bool>* removed = nullptr;  // a release by the policy
    std::uint64_t hold = 0;                      // a release by reviewers, with their approvals
    const std::vector<std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>>* approvals =
        nullptr;
    schema::AuditEvent event = schema::AuditEvent::RELEASED;
    std::string_view reason, detail;
    bool from_report = false, by_reviewer = false;
  };
  Status hand_off(Pass& p, const HandOff& h);
#ifdef CG_BROKEN_FILTER_FOR_TESTS
  std::optional<Result<bool>> broken_release(Pass& p, const ingest::InboxEntry& entry,
                                             schema::Item::Reader item, std::uint32_t di,
                                             const audit::Event& ev);
#endif
  // Judged FLASH items and consumed inbox entries; the commit.
  Status commit(Pass& p, std::optional<std::uint64_t> consumed_through);
  // Half 2: up to limits::guard_releases_max waiting releases to the guard (offering it the
  // bundle when it asks), its answers applied (apply_signed, apply_refused) in one commit,
  // then sent. False when nothing waited.
  Result<bool> deliver(const std::shared_ptr<const approval::Bundle>& bundle,
                       std::int64_t judged_ns);
  Result<wire::Message<schema::GuardReply>> ask_guard(std::span<const std::uint8_t> request,
                                                      const approval::Bundle& bundle);
  struct Delivery {
    std::vector<NewEpoch> announcements;
    std::vector<Out> out;
  };
  Status apply_signed(store::WriteTxn& txn, std::int64_t now, const approval::Bundle& bundle,
                      schema::GuardHandOff::Reader h, schema::GuardSigned::Reader answer,
                      Delivery& d);
  Status apply_refused(store::WriteTxn& txn, std::int64_t now, const approval::Bundle& bundle,
                       schema::GuardHandOff::Reader h, std::string_view refused);
  // Only once committed: the new announcements, then the envelopes in seq order.
  Status send(Delivery& d, std::int64_t judged_ns);
  // After a restart: sends again, unchanged, what was committed but may not have reached the
  // wire before the crash (from the durable on-the-wire mark to the last seq), preceded by the
  // announcements of their epochs. The relay and receiver refuse what they already have.
  Status resend_unsent();
  // Every housekeeping_every_ns: stores how far sent envelopes are surely on the wire, repeats
  // the current epochs' announcements, prunes sent envelopes past their retention.
  Status housekeeping();
  Result<std::vector<std::uint8_t>> signed_stream_head(const std::string& party,
                                                       std::uint64_t last);
  Status submit_control_blocking(std::span<const std::uint8_t> payload, std::uint32_t repeats);
  // Hands one envelope to the link under the next link seq (waiting while the link is full)
  // and returns that link seq.
  Result<std::uint64_t> submit_blocking(std::span<const std::uint8_t> bytes, schema::Precedence p);
  // A receiver report (item of kind gapReport) from the source `entry` came from: verified,
  // then either about this gateway (another party's receiver lost some of our envelopes: they
  // are queued for re-sending) or not (audited and consumed). Returns false when the report
  // is this party's own receiver's, which is judged and released like any item.
  Result<bool> take_report(store::WriteTxn& txn, schema::Item::Reader item, std::int64_t now,
                           std::uint64_t rules_version);
  // What a report asks of this gateway, summed over its streams.
  struct GapAsk {
    std::uint64_t asked = 0, queued = 0, gone = 0;  // seqs asked, queued, no longer kept
    std::string unrecoverable;                      // the ranges no longer kept (for the log)
  };
  // Queues the re-sends one stream's gaps ask for (what the sent log still keeps).
  Status queue_resends(const recovery::StreamGaps& g, GapAsk& t);
  // Re-sends what the queue allows now, unchanged, from the sent log.
  Status resend_some();
  // How long what waits in the link's queue needs to leave at its pace.
  std::int64_t link_backlog_ns();
};

Status GatewayNode::Impl::load() {
  events.emplace(config.id, *clock, log_interval_ns);
  if (!config.keys || !config.pipeline || !config.ingest || config.links_out.size() != 1) {
    return malformed(config.source_file +
                     ": a gateway needs [keys], [pipeline], [ingest] and one [[link_out]]");
  }
  CG_RETURN_IF_ERROR(load_identity());
  CG_RETURN_IF_ERROR(open_store());
  CG_RETURN_IF_ERROR(open_link());
  // Ingest last: nothing is accepted before everything behind it works.
  CG_RETURN_IF_ERROR(start_ingest());
  return register_metrics();
}

Status GatewayNode::Impl::load_identity() {
  const auto& k = *config.keys;
  std::vector<std::uint8_t> key_id;
  if (config.guard) {
    // The filter of a separate guard: no key; the suite is the trust root's.
    CG_ASSIGN_OR_RETURN(suite, trust_root_file_suite(k.trust_root));
  } else {
    CG_ASSIGN_OR_RETURN(auto pass, passphrase(k));
    CG_ASSIGN_OR_RETURN(signing_key,
                        crypto::load_signing_key_file(k.signing_key, pass ? &*pass : nullptr,
                                                      /*allow_unencrypted=*/!pass));
    CG_ASSIGN_OR_RETURN(suite, crypto::suite(signing_key->suite()));
    key_id = crypto::key_id(suite->id(), signing_key->public_key());
  }
  const approval::SuiteVerifier verifier(*suite);
  // The root pinned in the store, or its successor if the file holds one (trust_pin.h).
  CG_ASSIGN_OR_RETURN(auto pinned, load_trust_root(config, verifier, clock->now_ns()));
  root.emplace(pinned.root);
  root_pinned.emplace(std::move(pinned));
  const auto me = root->node(config.id);
  if (!me || me->getRole() != schema::Role::GATEWAY || wire::view(me->getParty()) != config.party) {
    return unauthenticated(config.id + ": not a gateway of " + config.party + " in the trust root");
  }
  if (!config.guard && !crypto::ct_equal({me->getSigningKey().getKeyId().begin(),
                                          me->getSigningKey().getKeyId().size()},
                                         key_id)) {
    return unauthenticated(config.id + ": not a gateway with this signing key in the trust root");
  }
  for (const auto n : root->body().getNodes()) {
    if (n.getRole() == schema::Role::RECEIVER && n.hasAgreementKey() &&
        wire::view(n.getParty()) != config.party) {
      streams[std::string(wire::view(n.getParty()))];
    }
  }
  return {};
}

Status GatewayNode::Impl::open_store() {
  CG_ASSIGN_OR_RETURN(
      env, store::Env::open({.path = config.store, .map_bytes = config.store_bytes_max}));
  CG_ASSIGN_OR_RETURN(auto ib, ingest::Inbox::open(*env));
  inbox.emplace(std::move(ib));
  CG_ASSIGN_OR_RETURN(auto sl, sentlog::SentLog::open(*env));
  sent.emplace(std::move(sl));
  CG_ASSIGN_OR_RETURN(auto q, quarantine::Quarantine::open(*env));
  held.emplace(std::move(q));
  CG_ASSIGN_OR_RETURN(auto a, audit::AuditLog::open(*env, config.id, *suite));
  audit_log.emplace(std::move(a));
  CG_RETURN_IF_ERROR(audit_pinned(*audit_log, *env, config.id, clock->now_ns(), *root_pinned));
  CG_ASSIGN_OR_RETURN(epochs_out, env->table("epochs_out"));
  CG_ASSIGN_OR_RETURN(marks, env->table("marks"));
  CG_ASSIGN_OR_RETURN(handoffs, env->table("handoff"));
  CG_ASSIGN_OR_RETURN(approver,
                      approval::Approver::open(*env, config.party, *root,
                                               std::make_shared<approval::SuiteVerifier>(*suite),
                                               policy_compiler()));
  {
    CG_ASSIGN_OR_RETURN(auto rtxn, env->begin_read());
    for (auto& [party, s] : streams) {
      CG_ASSIGN_OR_RETURN(auto m, rtxn.get(marks, mark_key_of(party)));
      if (m) s.mark_stored = store::from_be64(*m).value_or(0);
      // The newest epoch's announcement, repeated until the guard starts another.
      CG_ASSIGN_OR_RETURN(auto cursor, rtxn.cursor(epochs_out));
      const auto prefix = epoch_key_of(party, 0);
      const std::span<const std::uint8_t> party_prefix(prefix.data(), prefix.size() - 8);
      for (auto e = cursor.next(party_prefix);; e = cursor.next()) {
        if (!e.ok()) return e.status();
        if (!e->has_value()) break;
        const auto key = (*e)->first;
        if (key.size() != prefix.size() ||
            !std::equal(party_prefix.begin(), party_prefix.end(), key.begin()))
          break;
        s.epoch = store::from_be64(key.subspan(party_prefix.size())).value_or(0);
        s.announcement.assign((*e)->second.begin(), (*e)->second.end());
      }
    }
    for (const auto* k : {"handoff/next", "handoff/done"}) {
      CG_ASSIGN_OR_RETURN(auto v, rtxn.get(marks, store::as_bytes(k)));
      (std::string_view(k) == "handoff/next" ? handoff_next : handoff_done) =
          v ? store::from_be64(*v).value_or(0) : 0;
    }
  }
  if (config.guard) {
    CG_ASSIGN_OR_RETURN(guard_port, remote_guard(*config.guard));
  } else {
    signatory::SignatoryOptions so{.gateway = config.id,
                                   .epoch_items_max = config.pipeline->epoch_items_max,
                                   .epoch_seconds = config.pipeline->epoch_seconds};
    CG_ASSIGN_OR_RETURN(own_signatory, signatory::Signatory::open(*env, so, *signing_key, *root,
                                                                  *approver, *clock));
    guard_port = local_guard(*own_signatory);
  }
  return {};
}

Status GatewayNode::Impl::open_link() {
  const auto& lo = config.links_out[0];
  CG_ASSIGN_OR_RETURN(auto lk, crypto::read_link_key_file(lo.key_file));
  link_key.emplace(std::move(lk));
  link::SenderOptions so;
  so.settings = link_settings(lo);
  so.pace_bytes_per_s = lo.rate_bytes_per_s;
  so.interleave_depth = lo.interleave_depth;
  CG_RETURN_IF_ERROR(link::validate(so));
  CG_ASSIGN_OR_RETURN(link_tx, link::UdpSender::open(so, lo.peer, *link_key, *clock));
  return {};
}

Status GatewayNode::Impl::start_ingest() {
  ingest::ServerOptions io;
  io.log = &*events;
  io.endpoint = config.ingest->listen;
  CG_ASSIGN_OR_RETURN(io.secret_z85, read_first_line(config.ingest->curve_secret_file));
  for (const auto& s : config.ingest->sources) io.sources.push_back({s.id, s.curve_public});
  io.batch_items_max = config.ingest->batch_items_max;
  io.inbox_items_max = config.ingest->inbox_items_max;
  ingest_server = std::make_unique<ingest::Server>(io, *env, *inbox, *clock);
  return ingest_server->start();
}

Status GatewayNode::Impl::register_metrics() {
  metrics.set_node(config.id);
  register_rows(metrics, metric_rows(counters, resends_queued, rules_version_in_use));
  register_rows(metrics, ingest_rows(ingest_server->counters(), approver->counters()));
  register_link_metrics(metrics.registry(), config.links_out[0].name, &link_tx->counters(),
                        nullptr);
  register_link_queue_metrics(metrics.registry(), config.links_out[0].name, *link_tx);
  metrics.registry().gauge("cellgate_gateway_inbox_pending",
                           "Items stored by ingest and not yet judged.", {{"node", config.id}},
                           [this] {
                             auto n = inbox->pending();
                             return n.ok() ? static_cast<double>(*n) : -1.0;
                           });
  metrics.registry().histogram(
      "cellgate_gateway_judged_to_sent_seconds",
      "From the pipeline pass that judged an item to its envelope's hand-off to the link.",
      {{"node", config.id}}, judged_to_sent);
  return metrics.start(config);
}

Result<std::shared_ptr<const approval::Bundle>> GatewayNode::Impl::usable_bundle(std::int64_t now) {
  auto bundle = approver->usable(now);
  if (!bundle.ok()) {
    // Logged once per change of state (the pipeline asks on every pass), counted every time.
    counters.waits_no_bundle.fetch_add(1);
    if (bundle_refusal != bundle.status().reason()) {
      bundle_refusal = bundle.status().reason();
      log_line(config.id, bundle_refusal + " (judging nothing until that changes)");
    }
    return std::shared_ptr<const approval::Bundle>();
  }
  if (!bundle_refusal.empty()) {
    bundle_refusal.clear();
    log_line(config.id,
             "rules bundle v" + std::to_string((*bundle)->version) + " usable: judging again");
  }
  return *bundle;
}

Result<bool> GatewayNode::Impl::pass() {
  const std::int64_t now = clock->now_ns();
  const std::int64_t judged_ns = clock->monotonic_ns();
  CG_ASSIGN_OR_RETURN(auto bundle, usable_bundle(now));
  if (!bundle) return false;
  CG_ASSIGN_OR_RETURN(const bool judged, judge_pass(bundle, now));
  CG_ASSIGN_OR_RETURN(const bool delivered, deliver(bundle, judged_ns));
  return judged || delivered;
}

Result<bool> GatewayNode::Impl::judge_pass(const std::shared_ptr<const approval::Bundle>& bundle,
                                           std::int64_t now) {
  {
    CG_ASSIGN_OR_RETURN(auto rtxn, env->begin_read());
    CG_ASSIGN_OR_RETURN(const auto waiting, rtxn.count(handoffs));
    if (waiting >= limits::guard_handoff_max) {
      counters.waits_for_guard.fetch_add(1);
      return false;  // back-pressure: the guard answers first
    }
  }
  // FLASH items first, whatever routine items were received before them; then the oldest
  // pending items in order (skipping FLASH items judged already).
  CG_ASSIGN_OR_RETURN(auto flash, inbox->read_flash(config.pipeline->batch_items_max));
  CG_ASSIGN_OR_RETURN(auto pending, inbox->read_pending(config.pipeline->batch_items_max));
  CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
  CG_ASSIGN_OR_RETURN(auto requests, held->requests(txn, tuning::review_requests_per_pass_max));
  if (pending.empty() && requests.empty() && flash.empty()) return false;
  Pass p{.now = now,
         .bundle = bundle,
         .rules = *std::static_pointer_cast<const policy::Policy>(bundle->policy),
         .txn = txn};
  std::vector<const ingest::InboxEntry*> work;
  for (const auto& f : flash) {
    p.taken_now.insert(f.seq);
    work.push_back(&f);
  }
  for (const auto& e : pending)
    if (!e.taken && !p.taken_now.count(e.seq)) work.push_back(&e);
  CG_ASSIGN_OR_RETURN(auto evaluator, policy::Evaluator::create(p.rules));
  // While the pass runs, each item in it may be handed off: the gauge counts them before any
  // is counted as judged, so "judged, and nothing waits for the guard" is never seen early.
  counters.guard_backlog.fetch_add(work.size() + requests.size());
  for (const auto& r : requests) CG_RETURN_IF_ERROR(review(p, r));
  for (const auto* e : work) CG_RETURN_IF_ERROR(judge(p, evaluator, *e));
  CG_ASSIGN_OR_RETURN(const auto backlog, p.txn.count(handoffs));
  CG_RETURN_IF_ERROR(commit(p, pending.empty() ? std::nullopt : std::optional(pending.back().seq)));
  counters.guard_backlog.store(backlog);
  return true;
}

Status GatewayNode::Impl::hand_off(Pass& p, const HandOff& h) {
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<schema::GuardHandOff>();
  auto r = b.initRelease();
  const std::uint64_t id = ++handoff_next;
  r.setHandoff(id);
  r.setDestination(h.destination);
  r.setOriginal(kj::arrayPtr(h.original.data(), h.original.size()));
  r.setReleased(kj::arrayPtr(h.released.data(), h.released.size()));
  if (h.removed != nullptr) {
    auto rm = r.initRemoved(static_cast<unsigned>(h.removed->size()));
    for (unsigned i = 0; i < h.removed->size(); ++i) rm.set(i, (*h.removed)[i]);
  }
  r.setHold(h.hold);
  if (h.approvals != nullptr) {
    auto as = r.initApprovals(static_cast<unsigned>(h.approvals->size()));
    for (unsigned i = 0; i < h.approvals->size(); ++i) {
      const auto& [kid, sig] = (*h.approvals)[i];
      as[i].setKeyId(kj::arrayPtr(kid.data(), kid.size()));
      as[i].setSignature(kj::arrayPtr(sig.data(), sig.size()));
    }
  }
  b.setEvent(static_cast<std::uint16_t>(h.event));
  b.setReason(std::string(h.reason));
  b.setDetail(std::string(h.detail));
  b.setFromReport(h.from_report);
  b.setByReviewer(h.by_reviewer);
  b.setItemId(kj::arrayPtr(h.item_id.data(), h.item_id.size()));
  b.setParty(h.party);
  CG_RETURN_IF_ERROR(p.txn.put(handoffs, store::be64(id), wire::to_flat_bytes(mb)));
  return p.txn.put(marks, store::as_bytes("handoff/next"), store::be64(id));
}

Status GatewayNode::Impl::refuse_review(Pass& p, const quarantine::Quarantine::Request& r,
                                        audit::Event& ev, const std::string& why) {
  const bool reject = r.decision == quarantine::Decision::reject;
  const std::string what(quarantine::to_string(r.decision));
  const std::string refused_reason = what + " refused";  // audit::Event holds views
  (reject ? counters.rejects_refused : counters.releases_refused).fetch_add(1);
  ev.event = schema::AuditEvent::REJECTED_INPUT;
  ev.reason = refused_reason;
  ev.detail = why;
  events->log(reject ? "reject_refused" : "release_refused",
              "quarantine " + what + " refused: " + why);
  CG_RETURN_IF_ERROR(audit_log->append(p.txn, ev).status());
  return held->record_verdict(p.txn, r, {quarantine::Quarantine::Outcome::refused, why});
}

Status GatewayNode::Impl::review(Pass& p, const quarantine::Quarantine::Request& r) {
  const bool reject = r.decision == quarantine::Decision::reject;
  CG_RETURN_IF_ERROR(held->drop_request(p.txn, r));
  std::string reviewer;
  const approval::SuiteVerifier verifier(*suite);
  audit::Event ev{.time_ns = p.now,
                  .event = reject ? schema::AuditEvent::QUARANTINE_REJECTED
                                  : schema::AuditEvent::QUARANTINE_RELEASED,
                  .origin = config.id,
                  .rules_version = p.bundle->version};
  const std::string hold = "hold " + std::to_string(r.hold);
  if (reject) {
    auto h = held->reject(p.txn, r.hold, r.reason, *root, config.party, r.key_id, r.signature,
                          verifier, &reviewer);
    // Refused: audited, logged, counted, and answered; the item stays held as it was.
    if (!h.ok()) return refuse_review(p, r, ev, hold + ": " + h.status().reason());
    CG_ASSIGN_OR_RETURN(const auto item, describe_held(ev, *h));
    return apply_reject(p, r, ev, "reviewer " + reviewer + " (key " + to_hex(r.key_id) + ")");
  }
  auto progress = held->approve_release(p.txn, r.hold, *root, config.party, r.key_id, r.signature,
                                        verifier, &reviewer);
  if (!progress.ok()) return refuse_review(p, r, ev, hold + ": " + progress.status().reason());
  std::string who = "reviewers";
  for (const auto& name : progress->reviewers) who += " " + name;
  who += " (" + std::to_string(progress->reviewers.size()) + " of " +
         std::to_string(progress->threshold) + ")";
  CG_ASSIGN_OR_RETURN(const auto item, describe_held(ev, progress->held));
  if (!progress->released) return count_approval(p, r, ev, reviewer, who);
  return apply_release(p, r, *progress, item.root(), ev, who);
}

Result<wire::Message<schema::Item>> GatewayNode::Impl::describe_held(audit::Event& ev,
                                                                     const quarantine::Held& h) {
  auto item = wire::decode_canonical_item(h.item);
  if (!item.ok()) return io_error("hold " + std::to_string(h.id) + ": " + item.status().reason());
  ev.item_id = {item->root().getId().begin(), item->root().getId().size()};
  ev.destination = h.destination;
  return item;
}

// An approval below the party's release threshold: audited with the reviewer's name (`ev`
// already names the item), answered; the item stays held for the next reviewer.
Status GatewayNode::Impl::count_approval(Pass& p, const quarantine::Quarantine::Request& r,
                                         audit::Event& ev, const std::string& reviewer,
                                         const std::string& so_far) {
  ev.event = schema::AuditEvent::QUARANTINE_APPROVED;
  ev.reason = "approved by reviewer, below the release threshold";
  ev.detail = so_far;
  CG_RETURN_IF_ERROR(audit_log->append(p.txn, ev).status());
  counters.release_approvals.fetch_add(1);
  events->log("release_approval", "quarantine hold " + std::to_string(r.hold) + ": approval by " +
                                      reviewer + " counted, " + so_far + "; still held");
  return held->record_verdict(
      p.txn, r,
      {quarantine::Quarantine::Outcome::counted,
       "approval by " + reviewer + " counted: " + so_far +
           "; the item stays held until enough reviewers of " + config.party + " approve"});
}

Status GatewayNode::Impl::apply_reject(Pass& p, const quarantine::Quarantine::Request& r,
                                       audit::Event& ev, const std::string& who) {
  const std::string why_rejected = who + ": " + r.reason;
  ev.reason = "rejected by reviewer";
  ev.detail = why_rejected;
  CG_RETURN_IF_ERROR(audit_log->append(p.txn, ev).status());
  CG_RETURN_IF_ERROR(held->record_verdict(
      p.txn, r,
      {quarantine::Quarantine::Outcome::applied,
       "rejected by " + who + "; it will never be sent; audited by " + config.id}));
  counters.rejected_by_reviewer.fetch_add(1);
  return {};
}

// A released item's held bytes — exactly what the reviewers signed — go to the guard with
// their approvals, which it verifies before it signs.
Status GatewayNode::Impl::apply_release(Pass& p, const quarantine::Quarantine::Request& r,
                                        const quarantine::Quarantine::ReleaseProgress& progress,
                                        schema::Item::Reader item, audit::Event& ev,
                                        const std::string& who) {
  const quarantine::Held& h = progress.held;
  const auto di = p.rules.destination_index(h.destination);
  const policy::Destination* dest = di ? &p.rules.destinations()[*di] : nullptr;
  ev.reason = "released by reviewer";
  ev.detail = who;
  if (dest == nullptr || !streams.count(dest->party)) {
    // Signed, but it cannot be sent under the current rules: held again, never dropped.
    CG_ASSIGN_OR_RETURN(const auto again, held->hold(p.txn, p.now, h.destination, h.rules_version,
                                                     h.explanation, h.item));
    return refuse_review(p, r, ev,
                         "hold " + std::to_string(r.hold) + ": destination '" + h.destination +
                             "' has no receiver under the current rules; held again as " +
                             std::to_string(again));
  }
  CG_RETURN_IF_ERROR(hand_off(p, {.destination = h.destination,
                                  .party = dest->party,
                                  .item_id = {item.getId().begin(), item.getId().size()},
                                  .original = h.item,
                                  .released = h.item,
                                  .hold = h.id,
                                  .approvals = &progress.approvals,
                                  .event = ev.event,
                                  .reason = ev.reason,
                                  .detail = ev.detail,
                                  .by_reviewer = true}));
  return held->record_verdict(
      p.txn, r,
      {quarantine::Quarantine::Outcome::applied,
       "released by " + who + ": handed to the release guard for " + dest->party +
           " (it checks the approvals, signs and sends; audited by " + config.id + ")"});
}

Status GatewayNode::Impl::judge(Pass& p, policy::Evaluator& evaluator,
                                const ingest::InboxEntry& entry) {
  auto item = wire::decode_canonical_item(entry.item);
  if (!item.ok()) {  // stored by ingest after validation: a store fault, not input
    return io_error("inbox entry " + std::to_string(entry.seq) + ": " + item.status().reason());
  }
  counters.items_judged.fetch_add(1);
  const bool report = item->root().getKind() == schema::Kind::GAP_REPORT;
  if (report) {
    CG_ASSIGN_OR_RETURN(const bool taken,
                        take_report(p.txn, item->root(), p.now, p.bundle->version));
    if (taken) return {};  // else: this party's receiver's report, judged below
    counters.reports_out.fetch_add(1);
  }
  p.report = report;
  for (std::uint32_t di = 0; di < p.rules.destinations().size(); ++di) {
    if (!streams.count(p.rules.destinations()[di].party))
      continue;  // no receiver: nothing can be sealed for it
    CG_RETURN_IF_ERROR(judge_for(p, evaluator, entry, item->root(), di).status());
  }
  return {};
}

#ifdef CG_BROKEN_FILTER_FOR_TESTS
std::optional<Result<bool>> GatewayNode::Impl::broken_release(Pass& p,
                                                              const ingest::InboxEntry& entry,
                                                              schema::Item::Reader item,
                                                              std::uint32_t di,
                                                              const audit::Event& ev) {
  std::string how;
  for (const auto t : item.getTopics()) {
    const auto v = wire::view(t);
    if (v.starts_with("test-break-")) how = std::string(v.substr(11));
  }
  if (how.empty()) return std::nullopt;
  const auto done = [](Status s) { return s.ok() ? Result<bool>(true) : Result<bool>(s); };
  const auto& dest = p.rules.destinations()[di];
  const policy::Decision& d = p.decision;
  p.removed.assign(item.getPortions().size(), false);
  HandOff h{.destination = dest.id,
            .party = dest.party,
            .item_id = ev.item_id,
            .original = entry.item,
            .released = entry.item,
            .removed = &p.removed,
            .event = schema::AuditEvent::RELEASED,
            .reason = "broken filter",
            .detail = how};
  if (how == "red" || how == "deny") {
    // A RED portion, or a deny term, released as if nothing were wrong.
    return done(hand_off(p, h));
  }
  for (std::size_t i = 0; i < d.portions.size(); ++i)
    p.removed[i] = d.portions[i] != policy::Verdict::crosses;
  if (how == "unremoved") {
    // Says it removed the portions it should have, and sends them anyway.
    return done(hand_off(p, h));
  }
  // "banner": the right portions, under the original (higher) banner.
  capnp::MallocMessageBuilder mb;
  policy::build_released(p.rules, item, d, mb.initRoot<schema::Item>());
  mb.getRoot<schema::Item>().setBanner(item.getBanner());
  const auto released = wire::canonical_bytes_of(mb.getRoot<schema::Item>().asReader(), false);
  h.released = released;
  h.event = schema::AuditEvent::REDACTED;
  return done(hand_off(p, h));
}
#endif

Result<bool> GatewayNode::Impl::judge_for(Pass& p, policy::Evaluator& evaluator,
                                          const ingest::InboxEntry& entry,
                                          schema::Item::Reader item, std::uint32_t di) {
  const auto& dest = p.rules.destinations()[di];
  evaluator.decide(item, di, p.now, p.decision);
  const policy::Decision& d = p.decision;
  const std::string why = policy::explain_text(p.rules, item, d);
  audit::Event ev{.time_ns = p.now,
                  .item_id = {item.getId().begin(), item.getId().size()},
                  .origin = config.id,
                  .destination = dest.party,
                  .rules_version = p.bundle->version,
                  .reason = policy::reason_name(d.reason),
                  .detail = why};
#ifdef CG_BROKEN_FILTER_FOR_TESTS
  // A deliberately broken filter, compiled only into tests/integration's cellgate-broken-filter
  // (never into cellgate): items with a topic "test-break-<how>" are released wrongly, so the
  // test can show that the guard refuses each and nothing crosses.
  if (auto broken = broken_release(p, entry, item, di, ev)) return *broken;
#endif
  if (d.outcome == policy::Outcome::block) {
    ev.event = schema::AuditEvent::BLOCKED;
    CG_RETURN_IF_ERROR(audit_log->append(p.txn, ev).status());
    counters.blocked.fetch_add(1);
    return false;
  }
  if (d.outcome == policy::Outcome::quarantine) {
    ev.event = schema::AuditEvent::QUARANTINED;
    CG_RETURN_IF_ERROR(
        held->hold(p.txn, p.now, dest.id, p.bundle->version, why, entry.item).status());
    CG_RETURN_IF_ERROR(audit_log->append(p.txn, ev).status());
    counters.quarantined.fetch_add(1);
    return false;
  }
  // Released: what the decision claims goes with it to the guard, which checks it on its own
  // and alone signs; the release is audited once the guard has answered (deliver).
  p.removed.clear();
  for (const auto v : d.portions) p.removed.push_back(v != policy::Verdict::crosses);
  HandOff h{.destination = dest.id,
            .party = dest.party,
            .item_id = ev.item_id,
            .original = entry.item,
            .removed = &p.removed,
            .event = d.changed ? schema::AuditEvent::REDACTED : schema::AuditEvent::RELEASED,
            .reason = ev.reason,
            .detail = ev.detail,
            .from_report = p.report};
  if (d.changed) {
    capnp::MallocMessageBuilder mb;
    policy::build_released(p.rules, item, d, mb.initRoot<schema::Item>());
    const auto redacted = wire::canonical_bytes_of(mb.getRoot<schema::Item>().asReader(),
                                                   /*framed=*/false);
    h.released = redacted;
    CG_RETURN_IF_ERROR(hand_off(p, h));
  } else {
    h.released = entry.item;
    CG_RETURN_IF_ERROR(hand_off(p, h));
  }
  return true;
}

Status GatewayNode::Impl::commit(Pass& p, std::optional<std::uint64_t> consumed_through) {
  for (const auto seq : p.taken_now) CG_RETURN_IF_ERROR(inbox->take(p.txn, seq));
  if (consumed_through) CG_RETURN_IF_ERROR(inbox->consume_through(p.txn, *consumed_through));
  return p.txn.commit();
}

Result<wire::Message<schema::GuardReply>> GatewayNode::Impl::ask_guard(
    std::span<const std::uint8_t> request, const approval::Bundle& bundle) {
  for (int attempt = 0;; ++attempt) {
    CG_ASSIGN_OR_RETURN(auto bytes, guard_port->call(request));
    auto reply = signatory::decode_reply(bytes);
    if (!reply.ok()) {
      counters.guard_errors.fetch_add(1);
      return io_error("release guard: its reply: " + reply.status().reason());
    }
    const auto r = reply->root();
    if (r.which() == schema::GuardReply::REFUSED) {
      counters.guard_errors.fetch_add(1);
      return rejected("release guard refused the request: " +
                      std::string(wire::view(r.getRefused())));
    }
    if (r.which() != schema::GuardReply::NEED_BUNDLE) return reply;
    if (attempt > 0) return rejected("release guard: asks again for the bundle it was offered");
    // The guard verifies the bundle on its own (reviewers' signatures, version).
    capnp::MallocMessageBuilder mb;
    mb.initRoot<schema::GuardRequest>().setBundle(
        kj::arrayPtr(bundle.bytes.data(), bundle.bytes.size()));
    CG_ASSIGN_OR_RETURN(auto offered, guard_port->call(wire::to_flat_bytes(mb)));
    auto ok = signatory::decode_reply(offered);
    if (!ok.ok()) return io_error("release guard: its reply: " + ok.status().reason());
    if (ok->root().which() != schema::GuardReply::BUNDLE_VERSION) {
      counters.guard_errors.fetch_add(1);
      return rejected("release guard did not take rules bundle v" + std::to_string(bundle.version) +
                      (ok->root().which() == schema::GuardReply::REFUSED
                           ? ": " + std::string(wire::view(ok->root().getRefused()))
                           : std::string()));
    }
    log_line(config.id, "release guard: rules bundle v" + std::to_string(bundle.version) +
                            " offered and verified by the guard");
  }
}

Result<bool> GatewayNode::Impl::deliver(const std::shared_ptr<const approval::Bundle>& bundle,
                                        std::int64_t judged_ns) {
  // What waits, oldest first, within the request's bounds.
  std::vector<std::pair<std::uint64_t, wire::Message<schema::GuardHandOff>>> waiting;
  {
    CG_ASSIGN_OR_RETURN(auto rtxn, env->begin_read());
    CG_ASSIGN_OR_RETURN(auto cursor, rtxn.cursor(handoffs));
    std::size_t bytes = 0;
    for (auto e = cursor.next(); waiting.size() < limits::guard_releases_max; e = cursor.next()) {
      if (!e.ok()) return e.status();
      if (!e->has_value()) break;
      const auto v = (*e)->second;
      if (!waiting.empty() && bytes + v.size() > limits::guard_request_bytes_max) break;
      auto m = wire::decode_message<schema::GuardHandOff>(
          v, wire::DecodeLimits{limits::guard_message_bytes_max, limits::guard_traversal_words_max},
          [](schema::GuardHandOff::Reader h) -> Status {
            (void)h.getRelease().getOriginal();
            (void)h.getReason();
            (void)h.getDetail();
            (void)h.getParty();
            (void)h.getItemId();
            return {};
          });
      if (!m.ok()) return io_error("hand-off entry: " + m.status().reason());  // a store fault
      bytes += v.size();
      waiting.emplace_back(store::from_be64((*e)->first).value_or(0), std::move(*m));
    }
  }
  if (waiting.empty()) return false;
  capnp::MallocMessageBuilder mb;
  auto seal = mb.initRoot<schema::GuardRequest>().initSeal();
  seal.setBundleHash(kj::arrayPtr(bundle->hash.data(), bundle->hash.size()));
  seal.setCommittedThrough(handoff_done);
  auto list = seal.initReleases(static_cast<unsigned>(waiting.size()));
  for (unsigned i = 0; i < waiting.size(); ++i)
    list.setWithCaveats(i, waiting[i].second.root().getRelease());
  CG_ASSIGN_OR_RETURN(auto reply, ask_guard(wire::to_flat_bytes(mb), *bundle));
  if (reply.root().which() != schema::GuardReply::ANSWERS) {
    counters.guard_errors.fetch_add(1);
    return io_error("release guard: answered a seal request with something else");
  }
  const auto answers = reply.root().getAnswers();
  if (answers.size() != waiting.size()) {
    counters.guard_errors.fetch_add(1);
    return io_error("release guard: " + std::to_string(answers.size()) + " answers to " +
                    std::to_string(waiting.size()) + " releases");
  }
  const std::int64_t now = clock->now_ns();
  Delivery d;
  CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
  for (unsigned i = 0; i < answers.size(); ++i) {
    const auto h = waiting[i].second.root();
    const auto a = answers[i];
    if (a.getHandoff() != waiting[i].first) {
      counters.guard_errors.fetch_add(1);
      return io_error("release guard: answer " + std::to_string(i) + " is for hand-off " +
                      std::to_string(a.getHandoff()) + ", not " + std::to_string(waiting[i].first));
    }
    if (a.which() == schema::GuardAnswer::SIGNED) {
      CG_RETURN_IF_ERROR(apply_signed(txn, now, *bundle, h, a.getSigned(), d));
    } else {
      CG_RETURN_IF_ERROR(apply_refused(txn, now, *bundle, h, wire::view(a.getRefused())));
    }
    CG_RETURN_IF_ERROR(txn.erase(handoffs, store::be64(waiting[i].first)).status());
  }
  for (const auto& a : d.announcements)
    CG_RETURN_IF_ERROR(txn.put(epochs_out, epoch_key_of(a.party, a.epoch), a.announcement));
  CG_RETURN_IF_ERROR(
      txn.put(marks, store::as_bytes("handoff/done"), store::be64(waiting.back().first)));
  CG_ASSIGN_OR_RETURN(const auto backlog, txn.count(handoffs));
  CG_RETURN_IF_ERROR(txn.commit());
  handoff_done = waiting.back().first;
  for (const auto& a : d.announcements) {
    auto& st = streams[a.party];
    st.epoch = a.epoch;
    st.announcement = a.announcement;
    st.announced_ns = clock->monotonic_ns();
  }
  CG_RETURN_IF_ERROR(send(d, judged_ns));
  counters.guard_backlog.store(backlog);  // after the send: zero means all of it is out
  return true;
}

// An envelope the guard signed: checked against what was asked (its destination and seq),
// stored in the sent log under the guard's seq, and audited as the filter decided.
Status GatewayNode::Impl::apply_signed(store::WriteTxn& txn, std::int64_t now,
                                       const approval::Bundle& bundle,
                                       schema::GuardHandOff::Reader h,
                                       schema::GuardSigned::Reader answer, Delivery& d) {
  const std::string party(wire::view(h.getParty()));
  const std::span<const std::uint8_t> bytes(answer.getEnvelope().begin(),
                                            answer.getEnvelope().size());
  auto e = envelope::decode(bytes);
  if (!e.ok()) return io_error("release guard: its envelope: " + e.status().reason());
  const auto hdr = e->root().getHeader();
  if (wire::view(hdr.getDestination()) != party || hdr.getSeq() != answer.getSeq()) {
    return io_error("release guard: an envelope for " +
                    std::string(wire::view(hdr.getDestination())) + " seq " +
                    std::to_string(hdr.getSeq()) + " answers a release to " + party + " seq " +
                    std::to_string(answer.getSeq()));
  }
  if (answer.getAnnouncement().size() > 0) {
    const std::span<const std::uint8_t> ann(answer.getAnnouncement().begin(),
                                            answer.getAnnouncement().size());
    CG_ASSIGN_OR_RETURN(auto a, envelope::verify_announcement(ann, *root, *suite));
    d.announcements.push_back({party, a.epoch, {ann.begin(), ann.end()}});
  }
  CG_RETURN_IF_ERROR(sent->put_assigned(txn, {party, 0}, answer.getSeq(), now, bytes));
  const auto ev_kind = static_cast<schema::AuditEvent>(h.getEvent());
  const std::string reason(wire::view(h.getReason())), detail(wire::view(h.getDetail()));
  audit::Event ev{.time_ns = now,
                  .event = ev_kind,
                  .item_id = {h.getItemId().begin(), h.getItemId().size()},
                  .origin = config.id,
                  .destination = party,
                  .seq = answer.getSeq(),
                  .rules_version = bundle.version,
                  .reason = reason,
                  .detail = detail};
  CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
  counters.released.fetch_add(1);
  if (ev_kind == schema::AuditEvent::REDACTED) counters.redacted.fetch_add(1);
  if (h.getFromReport()) counters.reports_released.fetch_add(1);
  if (h.getByReviewer()) counters.released_by_reviewer.fetch_add(1);
  d.out.push_back({party, answer.getSeq(), hdr.getPrecedence(), {bytes.begin(), bytes.end()}});
  return {};
}

// The guard refused what the filter released: held for a person with both verdicts, audited,
// counted and logged — it never crosses.
Status GatewayNode::Impl::apply_refused(store::WriteTxn& txn, std::int64_t now,
                                        const approval::Bundle& bundle,
                                        schema::GuardHandOff::Reader h, std::string_view refused) {
  const auto r = h.getRelease();
  const std::string destination(wire::view(r.getDestination()));
  const std::string party(wire::view(h.getParty()));
  const std::string both =
      std::string(h.getByReviewer() ? "reviewers: released\n" : "filter: released\n") +
      std::string(wire::view(h.getDetail())) + "\nguard: refused: " + std::string(refused);
  const std::span<const std::uint8_t> original(r.getOriginal().begin(), r.getOriginal().size());
  CG_RETURN_IF_ERROR(held->hold(txn, now, destination, bundle.version, both, original).status());
  audit::Event ev{.time_ns = now,
                  .event = schema::AuditEvent::QUARANTINED,
                  .item_id = {h.getItemId().begin(), h.getItemId().size()},
                  .origin = config.id,
                  .destination = party,
                  .rules_version = bundle.version,
                  .reason = "guard refused",
                  .detail = both};
  CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
  counters.quarantined.fetch_add(1);
  counters.guard_refused.fetch_add(1);
  events->log("guard_refused", "release guard refused an item released for " + destination +
                                   " (held for review): " + std::string(refused));
  return {};
}

Status GatewayNode::Impl::send(Delivery& d, std::int64_t judged_ns) {
  // Durable: now it may cross. Announcements first, repeated so a receiver that lost one
  // still gets it.
  for (const auto& a : d.announcements)
    CG_RETURN_IF_ERROR(submit_control_blocking(a.announcement, tuning::new_epoch_repeats));
  // The link's sequence numbers must be consecutive per link; envelopes of one party are.
  std::stable_sort(d.out.begin(), d.out.end(),
                   [](const Out& a, const Out& b) { return a.seq < b.seq; });
  for (const auto& o : d.out) {
    CG_ASSIGN_OR_RETURN(const std::uint64_t at, submit_blocking(o.bytes, o.precedence));
    streams[o.party].mark.submitted(at, o.seq);
    counters.envelopes_sent.fetch_add(1);
    judged_to_sent.observe(clock->monotonic_ns() - judged_ns);
  }
  return {};
}

Status GatewayNode::Impl::submit_control_blocking(std::span<const std::uint8_t> payload,
                                                  std::uint32_t repeats) {
  for (;;) {
    auto s = link_tx->submit_control(payload, repeats);
    if (s.ok()) return {};
    if (s.status().code() != Code::overloaded || stopping.load()) return s.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(tuning::control_full_wait_ms));
  }
}

Result<std::uint64_t> GatewayNode::Impl::submit_blocking(std::span<const std::uint8_t> bytes,
                                                         schema::Precedence p) {
  const std::uint64_t seq = ++link_seq;
  for (;;) {  // back-pressure: the pipeline waits for the paced link
    Status s = link_tx->submit(
        seq, bytes,
        p == schema::Precedence::FLASH ? link::Precedence::flash : link::Precedence::routine);
    if (s.ok()) return seq;
    if (s.code() != Code::overloaded || stopping.load()) return s;
    std::this_thread::sleep_for(std::chrono::microseconds(tuning::link_full_wait_us));
  }
}

Status GatewayNode::Impl::queue_resends(const recovery::StreamGaps& g, GapAsk& t) {
  const sentlog::StreamId sid{g.key.destination, 0};
  CG_ASSIGN_OR_RETURN(const std::uint64_t last, sent->last_seq(sid));
  CG_ASSIGN_OR_RETURN(const auto first_kept, sent->first_kept(sid));
  const std::uint64_t kept_from = first_kept.value_or(last + 1);
  std::vector<recovery::SeqRange> wanted;
  for (auto r : g.ranges) {
    if (r.first > last) continue;  // never sent: nothing to re-send
    r.last = std::min(r.last, last);
    t.asked += r.last - r.first + 1;
    if (r.first < kept_from) {  // older than this gateway keeps: lost for good
      const std::uint64_t end = std::min(r.last, kept_from - 1);
      t.gone += end - r.first + 1;
      if (t.unrecoverable.size() < 200)
        t.unrecoverable += " " + std::to_string(r.first) + ".." + std::to_string(end);
      if (end == r.last) continue;
      r.first = end + 1;
    }
    wanted.push_back(r);
  }
  t.queued += resends.request(g.key.destination, wanted, clock->monotonic_ns(), link_backlog_ns());
  return {};
}

Result<bool> GatewayNode::Impl::take_report(store::WriteTxn& txn, schema::Item::Reader item,
                                            std::int64_t now, std::uint64_t rules_version) {
  audit::Event ev{.time_ns = now,
                  .event = schema::AuditEvent::REJECTED_INPUT,
                  .item_id = {item.getId().begin(), item.getId().size()},
                  .origin = config.id,
                  .rules_version = rules_version,
                  .reason = "gap report"};
  auto bytes = recovery::report_of(item);
  auto report = bytes.ok() ? recovery::verify_report(*bytes, *root, *suite)
                           : Result<recovery::Report>(bytes.status());
  if (!report.ok()) {
    counters.gap_reports_refused.fetch_add(1);
    const std::string why = report.status().reason();
    ev.detail = why;
    log_line(config.id, "gap report refused: " + why);
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    return true;
  }
  if (report->reporter_party == config.party) return false;  // ours, on its way out
  GapAsk t;
  for (const auto& g : report->gaps) {
    if (g.key.origin != config.id || !streams.count(g.key.destination) || g.key.stream != 0)
      continue;
    CG_RETURN_IF_ERROR(queue_resends(g, t));
  }
  resends_queued.store(resends.queued());
  const std::uint64_t asked = t.asked, queued = t.queued, gone = t.gone;
  const std::string& unrecoverable = t.unrecoverable;
  counters.gap_reports_received.fetch_add(1);
  counters.gap_seqs_requested.fetch_add(asked);
  ev.event = schema::AuditEvent::GAP;
  ev.destination = report->reporter_party;
  ev.reason = "gap report";
  std::string detail = "from " + report->reporter + ": " + std::to_string(asked) +
                       " seq(s) asked, " + std::to_string(queued) + " queued for re-sending";
  if (gone > 0) {
    counters.gap_unrecoverable.fetch_add(gone);
    detail += ", " + std::to_string(gone) + " older than the sent log keeps (" +
              std::to_string(config.pipeline->sent_retention_seconds) + " s):" + unrecoverable;
    log_line(config.id, "ALARM: " + report->reporter + " is missing " + std::to_string(gone) +
                            " envelope(s) this gateway no longer keeps:" + unrecoverable);
  }
  ev.detail = detail;
  if (asked > 0) log_line(config.id, "gap report " + detail);
  CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
  return true;
}

std::int64_t GatewayNode::Impl::link_backlog_ns() {
  const auto q = link_tx->queued();
  const auto rate = std::max<std::uint64_t>(1, config.links_out[0].rate_bytes_per_s);
  return static_cast<std::int64_t>(static_cast<double>(q.bytes) * 1e9 / static_cast<double>(rate));
}

Status GatewayNode::Impl::resend_some() {
  if (resends.queued() == 0) return {};
  // Re-sends take what room the link has, never its whole queue: first sends keep flowing, and
  // a re-send does not wait behind seconds of backlog (the receiver would ask again meanwhile).
  if (link_tx->queued().bytes > tuning::resend_backlog_bytes_max) return {};
  const auto due = resends.take(tuning::resends_per_turn_max, clock->monotonic_ns());
  resends_queued.store(resends.queued());
  std::set<std::pair<std::string, std::uint64_t>> announced;
  for (const auto& [party, seq] : due) {
    const sentlog::StreamId sid{party, 0};
    CG_ASSIGN_OR_RETURN(auto bytes, sent->get(sid, seq));
    if (!bytes) {  // pruned since it was asked for
      counters.gap_unrecoverable.fetch_add(1);
      continue;
    }
    CG_ASSIGN_OR_RETURN(auto e, envelope::decode(*bytes));
    const auto h = e.root().getHeader();
    auto& s = streams[party];
    const bool current = s.epoch == h.getEpoch();
    if (!current && announced.insert({party, h.getEpoch()}).second) {
      CG_ASSIGN_OR_RETURN(auto rtxn, env->begin_read());
      CG_ASSIGN_OR_RETURN(auto a, rtxn.get(epochs_out, epoch_key_of(party, h.getEpoch())));
      if (a) {
        const std::vector<std::uint8_t> copy(a->begin(), a->end());
        CG_RETURN_IF_ERROR(submit_control_blocking(copy, tuning::control_repeats));
      }
    }
    CG_RETURN_IF_ERROR(submit_blocking(*bytes, h.getPrecedence()).status());
    counters.resent_for_gaps.fetch_add(1);
  }
  return {};
}

Status GatewayNode::Impl::resend_unsent() {
  for (auto& [party, s] : streams) {
    const sentlog::StreamId sid{party, 0};
    CG_ASSIGN_OR_RETURN(const std::uint64_t last, sent->last_seq(sid));
    if (last <= s.mark_stored) continue;
    CG_ASSIGN_OR_RETURN(auto first_kept, sent->first_kept(sid));
    const std::uint64_t from = std::max(s.mark_stored + 1, first_kept.value_or(last + 1));
    std::set<std::uint64_t> announced;
    std::uint64_t n = 0;
    for (std::uint64_t seq = from; seq <= last && !stopping.load(); ++seq) {
      CG_ASSIGN_OR_RETURN(auto bytes, sent->get(sid, seq));
      if (!bytes) continue;  // reserved in a transaction that never committed
      CG_ASSIGN_OR_RETURN(auto e, envelope::decode(*bytes));
      const auto h = e.root().getHeader();
      if (announced.insert(h.getEpoch()).second) {
        CG_ASSIGN_OR_RETURN(auto rtxn, env->begin_read());
        CG_ASSIGN_OR_RETURN(auto a, rtxn.get(epochs_out, epoch_key_of(party, h.getEpoch())));
        if (!a)
          return io_error("no stored announcement of epoch " + std::to_string(h.getEpoch()) +
                          " for " + party);
        const std::vector<std::uint8_t> copy(a->begin(), a->end());
        CG_RETURN_IF_ERROR(submit_control_blocking(copy, tuning::new_epoch_repeats));
      }
      CG_ASSIGN_OR_RETURN(const std::uint64_t at, submit_blocking(*bytes, h.getPrecedence()));
      s.mark.submitted(at, seq);
      ++n;
    }
    counters.resent_after_restart.fetch_add(n);
    log_line(config.id, "re-sent " + std::to_string(n) + " envelope(s) to " + party + " (seq " +
                            std::to_string(from) + ".." + std::to_string(last) +
                            ") committed before the restart and perhaps not on the wire");
  }
  return {};
}

Result<std::vector<std::uint8_t>> GatewayNode::Impl::signed_stream_head(const std::string& party,
                                                                        std::uint64_t last) {
  capnp::MallocMessageBuilder mb;
  auto h = mb.initRoot<schema::GuardRequest>().initStreamHead();
  h.setDestination(party);
  h.setSeq(last);
  CG_ASSIGN_OR_RETURN(auto bytes, guard_port->call(wire::to_flat_bytes(mb)));
  CG_ASSIGN_OR_RETURN(auto reply, signatory::decode_reply(bytes));
  const auto r = reply.root();
  if (r.which() != schema::GuardReply::STREAM_HEAD) {
    return rejected(
        "release guard did not sign the stream head to " + party + " at " + std::to_string(last) +
        (r.which() == schema::GuardReply::REFUSED ? ": " + std::string(wire::view(r.getRefused()))
                                                  : std::string()));
  }
  return std::vector<std::uint8_t>(r.getStreamHead().begin(), r.getStreamHead().end());
}

Status GatewayNode::Impl::housekeeping() {
  const std::int64_t mono = clock->monotonic_ns();
  if (mono - housekept_ns < tuning::housekeeping_every_ns) return {};
  housekept_ns = mono;
  const std::uint64_t floor = link_tx->unsent_floor();  // read after this thread's submits
  std::map<std::string, std::uint64_t> advanced;
  for (auto& [party, s] : streams) {
    const std::uint64_t w = s.mark.on_wire(floor);
    if (w > s.mark_stored) advanced[party] = w;
    if (s.epoch != 0 && mono - s.announced_ns >= tuning::reannounce_every_ns) {
      // Repeated for as long as the epoch is in use: a relay or receiver that was down when
      // it started still gets its key.
      s.announced_ns = mono;
      CG_RETURN_IF_ERROR(submit_control_blocking(s.announcement, tuning::reannounce_repeats));
    }
    if (!stopping.load() && mono - s.head_sent_ns >= tuning::stream_head_every_ns) {
      // The last seq committed, so a receiver learns of envelopes lost at a stream's tail.
      // Not while stopping: the guard is no longer asked (GuardPort::cancel), and the next
      // start sends the head again.
      s.head_sent_ns = mono;
      CG_ASSIGN_OR_RETURN(const std::uint64_t last, sent->last_seq({party, 0}));
      if (last > 0) {
        // Signed by the guard, which signs no head above the last seq it signed. A guard that
        // does not answer costs this head only (the next one is a second away).
        auto head = signed_stream_head(party, last);
        if (head.ok()) {
          CG_RETURN_IF_ERROR(submit_control_blocking(*head, tuning::control_repeats));
        } else {
          counters.guard_errors.fetch_add(1);
          errors->report("stream head: " + head.status().reason(), mono);
        }
      }
    }
  }
  if (auto b = approver->current();
      b &&
      (bundle_changed.exchange(false) || mono - bundle_sent_ns >= tuning::bundle_resend_every_ns)) {
    bundle_sent_ns = mono;
    for (const auto& chunk :
         bundle_chunks(b->bytes, link_settings(config.links_out[0]).fragment_bytes()))
      CG_RETURN_IF_ERROR(submit_control_blocking(chunk, tuning::control_repeats));
    counters.bundles_sent.fetch_add(1);
  }
  if (!advanced.empty()) {
    CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
    for (const auto& [party, w] : advanced)
      CG_RETURN_IF_ERROR(txn.put(marks, mark_key_of(party), store::be64(w)));
    CG_RETURN_IF_ERROR(txn.commit());
    for (const auto& [party, w] : advanced) streams[party].mark_stored = w;
  }
  // Retention, in bounded steps. Only what is surely on the wire may go (the retention is far
  // longer than the drain bound, so the age test implies it).
  const std::int64_t cutoff =
      clock->now_ns() - std::int64_t{config.pipeline->sent_retention_seconds} * ns_per_s;
  CG_ASSIGN_OR_RETURN(const auto pruned, sent->prune_before(cutoff, tuning::prune_per_pass_max));
  counters.sent_pruned.fetch_add(pruned);
  // Consumed inbox entries, whose ids answer a source's late retry, for as long.
  CG_ASSIGN_OR_RETURN(const auto pruned_in,
                      inbox->prune_before(cutoff, tuning::prune_per_pass_max));
  counters.inbox_pruned.fetch_add(pruned_in);
  return {};
}

void GatewayNode::Impl::run() {
  errors.emplace(config.id);
  while (!stopping.load()) {
    auto s = resend_unsent();
    if (s.ok()) break;
    counters.pipeline_errors.fetch_add(1);
    errors->report("re-sending after restart: " + s.reason(), clock->monotonic_ns());
    std::this_thread::sleep_for(std::chrono::milliseconds(tuning::restart_retry_ms));
  }
  while (!stopping.load()) {
    if (auto s = housekeeping(); !s.ok()) {
      counters.pipeline_errors.fetch_add(1);
      errors->report("housekeeping: " + s.reason(), clock->monotonic_ns());
    }
    if (auto s = resend_some(); !s.ok()) {
      counters.pipeline_errors.fetch_add(1);
      errors->report("re-sending for a gap: " + s.reason(), clock->monotonic_ns());
    }
    auto did = pass();
    if (!did.ok()) {
      counters.pipeline_errors.fetch_add(1);
      errors->report("pipeline: " + did.status().reason(), clock->monotonic_ns());
      std::this_thread::sleep_for(std::chrono::milliseconds(tuning::error_sleep_ms));
    } else if (!*did && resends.queued() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(tuning::idle_sleep_ms));
    }
  }
}

GatewayNode::GatewayNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GatewayNode::~GatewayNode() { stop(); }

Result<std::unique_ptr<GatewayNode>> GatewayNode::start(const config::NodeConfig& config,
                                                        const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->clock = &clock;
  CG_RETURN_IF_ERROR(impl->load());
  std::unique_ptr<GatewayNode> node(new GatewayNode(std::move(impl)));
  if (auto v = node->reload_rules(); !v.ok()) log_line(config.id, v.status().reason());
  node->impl_->pipeline = std::thread([n = node->impl_.get()] { n->run(); });
  return node;
}

Result<std::uint64_t> GatewayNode::reload_rules() {
  CG_ASSIGN_OR_RETURN(auto bytes, crypto::read_file(impl_->config.pipeline->rules_bundle,
                                                    limits::rules_bundle_bytes_max));
  CG_ASSIGN_OR_RETURN(auto b, impl_->approver->offer(bytes, impl_->clock->now_ns()));
  impl_->rules_version_in_use.store(b->version);
  impl_->bundle_changed.store(true);
  return b->version;
}

std::uint64_t GatewayNode::rules_version() const {
  auto b = impl_->approver->current();
  return b ? b->version : 0;
}

void GatewayNode::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->metrics.stop();
  if (impl_->ingest_server) impl_->ingest_server->stop();
  if (impl_->guard_port) impl_->guard_port->cancel();  // a pass waiting for the guard ends
  if (impl_->pipeline.joinable()) impl_->pipeline.join();
  if (impl_->link_tx) {
    for (int i = 0; i < tuning::drain_polls && !impl_->link_tx->idle(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(tuning::drain_poll_ms));
    impl_->housekept_ns = std::numeric_limits<std::int64_t>::min() / 2;  // store the marks now
    if (auto s = impl_->housekeeping(); !s.ok()) log_line(impl_->config.id, s.reason());
    impl_->link_tx->stop();
  }
}

const std::string& GatewayNode::ingest_endpoint() const { return impl_->ingest_server->endpoint(); }
const GatewayCounters& GatewayNode::counters() const { return impl_->counters; }
std::uint16_t GatewayNode::metrics_port() const { return impl_->metrics.port(); }

}  // namespace cg::node
