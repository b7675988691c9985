#include "gateway/roles/receiver/receiver.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <thread>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/audit/audit.h"
#include "gateway/common/limits.h"
#include "gateway/common/mutex.h"
#include "gateway/deliver/deliver.h"
#include "gateway/envelope/envelope.h"
#include "gateway/ingest/ingest.h"
#include "gateway/link/link.h"
#include "gateway/node/metric_table.h"
#include "gateway/node/node_common.h"
#include "gateway/node/store_keys.h"
#include "gateway/node/trust_pin.h"
#include "gateway/recovery/recovery.h"
#include "gateway/roles/receiver/tuning.h"

namespace cg::node {
namespace {

namespace tuning = receiver_tuning;

// What the receiver counts, as Prometheus rows, in the order of its exposition (names, labels
// and help texts are docs/OPERATIONS.md's).
std::vector<MetricRow> metric_rows(const ReceiverCounters& c) {
  return {
      counter_row("cellgate_receiver_received_total", "Envelopes received from the relay's link.",
                  c.received),
      counter_row("cellgate_receiver_stored_total",
                  "Envelopes verified, opened and stored for consumers.", c.stored),
      counter_row("cellgate_receiver_refused_total",
                  "Envelopes refused: countersignature, origin or opening failed.", c.refused),
      counter_row("cellgate_receiver_duplicates_total", "Envelopes already received (refused).",
                  c.duplicates),
      gauge_row("cellgate_receiver_waiting_for_epoch", "Envelopes held until their epoch key.",
                c.waiting_for_epoch),
      counter_row("cellgate_receiver_epochs_total", "Epoch announcements accepted.", c.epochs),
      counter_row("cellgate_receiver_lost_on_link_total", "Envelopes the link reported lost.",
                  c.lost_on_link),
      counter_row("cellgate_receiver_errors_total", "Processing errors.", c.errors),
      gauge_row("cellgate_receiver_missing",
                "Sequence numbers below the highest received (or the origin's stream head) that "
                "have not arrived.",
                c.missing),
      counter_row("cellgate_receiver_written_off_total",
                  "Sequence numbers written off: their stream ran past the dedupe window (alarm).",
                  c.written_off),
  };
}

// Gap recovery and the relay's one history (issue 10), after the receiver's own rows.
std::vector<MetricRow> recovery_rows(const ReceiverCounters& c) {
  return {
      counter_row("cellgate_receiver_gap_reports_total",
                  "Reports (gap ranges, tree head) sent towards this party's gateway.",
                  c.reports_sent),
      counter_row("cellgate_receiver_gap_seqs_requested_total",
                  "Sequence numbers asked for again in reports.", c.seqs_requested),
      counter_row("cellgate_receiver_recovered_total",
                  "Envelopes that arrived after this receiver reported them missing.", c.recovered),
      counter_row("cellgate_receiver_gaps_abandoned_total",
                  "Sequence numbers given up after give_up_seconds (alarm).", c.abandoned),
      counter_row("cellgate_receiver_reports_accepted_total",
                  "Reports this party's gateway acknowledged (its own and handed-on ones).",
                  c.reports_accepted),
      counter_row("cellgate_receiver_reports_in_total",
                  "Other parties' reports that arrived here and verified (not for consumers).",
                  c.reports_in),
      counter_row("cellgate_receiver_reports_handed_on_total",
                  "Other parties' reports about this party's gateway, handed to it.",
                  c.reports_handed_on),
      counter_row("cellgate_receiver_reports_refused_total",
                  "Other parties' reports refused (malformed, bad signature).", c.reports_refused),
      counter_row("cellgate_receiver_reports_dropped_total",
                  "Reports superseded before the gateway took them (queue full).",
                  c.reports_dropped),
      counter_row("cellgate_receiver_heads_total", "Published tree heads verified and kept.",
                  c.heads),
      counter_row("cellgate_receiver_heads_linked_total",
                  "Published tree heads proven consistent with an earlier one.", c.heads_linked),
      counter_row("cellgate_receiver_heads_unlinked_total",
                  "Published tree heads whose earlier heads were lost (no proof could be checked).",
                  c.heads_unlinked),
      counter_row("cellgate_receiver_heads_matched_total",
                  "The other party's quoted tree heads equal to this receiver's.", c.heads_matched),
      counter_row("cellgate_receiver_heads_unverifiable_total",
                  "The other party's quoted tree heads this receiver never held.",
                  c.heads_unverifiable),
      counter_row("cellgate_receiver_equivocation_total",
                  "Evidence that the relay showed the parties different histories (alarm).",
                  c.equivocation),
  };
}

// Delivery to consumers.
std::vector<MetricRow> delivery_rows(const deliver::Counters& dc) {
  return {
      counter_row("cellgate_deliver_delivered_total",
                  "Deliveries sent to consumers (redeliveries included).", dc.delivered),
      counter_row("cellgate_deliver_redelivered_total", "Deliveries sent again (no ack in time).",
                  dc.redelivered),
      counter_row("cellgate_deliver_acknowledged_total", "Deliveries consumers acknowledged.",
                  dc.acknowledged),
  };
}

}  // namespace

struct ReceiverNode::Impl {
  config::NodeConfig config;
  const Clock* clock = nullptr;
  // Refused frames and keys, logged rate-limited; declared before what logs into it, so it is
  // destroyed after.
  std::optional<RateLimitedLog> events;
  const crypto::Suite* suite = nullptr;
  std::unique_ptr<crypto::AgreementKey> kx;
  std::optional<approval::TrustRoot> root;
  std::optional<PinnedRoot> root_pinned;  // what the start did with it (audited)
  crypto::VerifiedSignatures verified;    // batch and tree head signatures, checked once each
  std::unique_ptr<store::Env> env;
  store::Table epochs_table;
  std::optional<deliver::DedupeWindow> seen;
  std::optional<deliver::Outbox> outbox;
  std::optional<audit::AuditLog> audit_log;
  std::unique_ptr<deliver::DeliveryServer> server;
  std::optional<crypto::Secret> link_key;
  std::optional<LinkInbox> handler;
  std::unique_ptr<link::UdpReceiver> rx;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::map<std::pair<std::string, std::uint64_t>, crypto::EpochKey> keys;  // thread only
  std::vector<std::vector<std::uint8_t>> waiting;                          // thread only
  // Gap recovery and the relay's history (issue 10); thread only.
  std::optional<recovery::GapTracker> gaps;
  std::optional<recovery::HeadChain> chain;
  std::map<recovery::StreamKey, std::uint64_t> stream_heads;  // origins' signed last seqs
  std::vector<std::string> origins;  // gateways of other parties (whose streams come here)
  std::int64_t reported_ns = 0, gossiped_ns = 0;
  std::unique_ptr<crypto::SigningKey> signing_key;  // for reports ([recovery])
  envelope::Signer signer;
  store::Table heads_table;     // relay \0 be64(serial) → published head record
  store::Table evidence_table;  // be64(n) → evidence text, as found
  // Reports for this party's gateway: submitted by their own thread (bounded, oldest dropped:
  // a newer report supersedes it).
  Mutex to_gateway_mu;
  CondVar to_gateway_cv;
  std::deque<std::vector<std::uint8_t>> to_gateway CG_GUARDED_BY(to_gateway_mu);
  std::thread reporter;
  ReceiverCounters counters;
  // From sealing at the origin gateway (the envelope header's time) to stored here: two hosts'
  // wall clocks, so their skew is in it (clamped at 0).
  metrics::Histogram arrival = metrics::Histogram::latency();
  NodeMetrics metrics;  // last: destroyed (its server stopped) before what it reads

  // Wiring, in order: identity (agreement key, trust root; returns the key files'
  // passphrase), store and tables, the signing key for reports, what the store kept (heads,
  // epoch keys), the link, delivery.
  Status load();
  Result<std::optional<crypto::Secret>> load_identity();
  Status open_store();
  Status load_reporting(const std::optional<crypto::Secret>& pass);
  Status restore();
  Status open_link();
  Status start_delivery();
  Status register_metrics();
  Status accept(std::span<const std::uint8_t> announcement, bool persist);
  // One poll's worth from the link. Its stages, in order: control records (take_controls:
  // stream heads, announcements); published heads and envelopes sorted (take_envelopes);
  // then, in one transaction, each head (take_head) and each envelope (take_envelope: verify,
  // epoch key, open, first_arrival, then a report or store_for_consumers).
  Status process();
  void take_controls();
  // The published heads of this poll; envelopes go to `waiting` (bounded).
  std::vector<std::vector<std::uint8_t>> take_envelopes();
  // True when the envelope must wait for its epoch key; every refusal is audited.
  Result<bool> take_envelope(store::WriteTxn& txn, std::span<const std::uint8_t> bytes,
                             std::int64_t now);
  // The dedupe window's verdict (written-off seqs alarmed): false, audited, for a duplicate.
  Result<bool> first_arrival(store::WriteTxn& txn, const std::string& origin,
                             schema::EnvelopeHeader::Reader h, audit::Event& ev);
  Status store_for_consumers(store::WriteTxn& txn, const envelope::Accepted& a,
                             const wire::Message<schema::Item>& item, audit::Event& ev,
                             std::int64_t now);
  // Every second: how many sequence numbers below the highest received are missing, per
  // origin (lost on a link, or crossing while a node was down): the gauge operators watch
  // until gap recovery (issue 10) fills them.
  Status count_gaps();
  std::int64_t gaps_counted_ns = 0;
  // Evidence of equivocation: alarm, counter, audit record and a durable copy.
  Status found(store::WriteTxn& txn, const std::vector<recovery::Evidence>& evidence,
               std::int64_t now);
  // A published head on the link: checked against the chain and kept.
  Status take_head(store::WriteTxn& txn, std::span<const std::uint8_t> record, std::int64_t now);
  // An opened gapReport item from another party: its quoted head compared with ours, and
  // when it asks this party's gateway for envelopes, handed to it.
  Status take_report(store::WriteTxn& txn, schema::Item::Reader item, audit::Event& ev,
                     std::int64_t now);
  // Every report_interval: what is due, signed, for this party's gateway.
  Status report(std::int64_t now);
  void queue_for_gateway(std::vector<std::uint8_t> item);
  void run_reporter();
  std::vector<std::uint8_t> fresh_id();
  void run();
};

Status ReceiverNode::Impl::load() {
  events.emplace(config.id, *clock, log_interval_ns);
  if (!config.keys || config.keys->agreement_key.empty() || config.links_in.size() != 1 ||
      !config.deliver) {
    return malformed(config.source_file +
                     ": a receiver needs [keys] with agreement_key, one [[link_in]] and [deliver]");
  }
  CG_ASSIGN_OR_RETURN(auto pass, load_identity());
  CG_RETURN_IF_ERROR(open_store());
  CG_RETURN_IF_ERROR(load_reporting(pass));
  CG_RETURN_IF_ERROR(restore());
  CG_RETURN_IF_ERROR(open_link());
  CG_RETURN_IF_ERROR(start_delivery());
  return register_metrics();
}

Result<std::optional<crypto::Secret>> ReceiverNode::Impl::load_identity() {
  CG_ASSIGN_OR_RETURN(auto pass, passphrase(*config.keys));
  CG_ASSIGN_OR_RETURN(kx, crypto::load_agreement_key_file(config.keys->agreement_key,
                                                          pass ? &*pass : nullptr, !pass));
  CG_ASSIGN_OR_RETURN(suite, crypto::suite(kx->suite()));
  const approval::SuiteVerifier verifier(*suite);
  // The root pinned in the store, or its successor if the file holds one (trust_pin.h).
  CG_ASSIGN_OR_RETURN(auto pinned, load_trust_root(config, verifier, clock->now_ns()));
  root.emplace(pinned.root);
  root_pinned.emplace(std::move(pinned));
  const auto me = root->node(config.id);
  if (!me || me->getRole() != schema::Role::RECEIVER || !me->hasAgreementKey() ||
      !crypto::ct_equal(
          {me->getAgreementKey().getKey().begin(), me->getAgreementKey().getKey().size()},
          kx->public_key())) {
    return unauthenticated(config.id +
                           ": not a receiver with this agreement key in the trust root");
  }
  return std::optional<crypto::Secret>(std::move(pass));
}

Status ReceiverNode::Impl::open_store() {
  CG_ASSIGN_OR_RETURN(
      env, store::Env::open({.path = config.store, .map_bytes = config.store_bytes_max}));
  CG_ASSIGN_OR_RETURN(epochs_table, env->table("epochs"));
  CG_ASSIGN_OR_RETURN(auto d, deliver::DedupeWindow::open(*env));
  seen.emplace(std::move(d));
  CG_ASSIGN_OR_RETURN(auto o, deliver::Outbox::open(*env));
  outbox.emplace(std::move(o));
  CG_ASSIGN_OR_RETURN(auto a, audit::AuditLog::open(*env, config.id, *suite));
  audit_log.emplace(std::move(a));
  CG_RETURN_IF_ERROR(audit_pinned(*audit_log, *env, config.id, clock->now_ns(), *root_pinned));
  CG_ASSIGN_OR_RETURN(heads_table, env->table("heads"));
  CG_ASSIGN_OR_RETURN(evidence_table, env->table("equivocation"));
  chain.emplace(crypto::hasher_of(*suite));
  return {};
}

Status ReceiverNode::Impl::load_reporting(const std::optional<crypto::Secret>& pass) {
  const auto me = root->node(config.id);
  for (const auto n : root->body().getNodes()) {
    if (n.getRole() == schema::Role::GATEWAY && wire::view(n.getParty()) != config.party)
      origins.emplace_back(wire::view(n.getId()));
  }
  if (config.recovery) {
    const auto& rc = *config.recovery;
    CG_ASSIGN_OR_RETURN(signing_key, crypto::load_signing_key_file(config.keys->signing_key,
                                                                   pass ? &*pass : nullptr, !pass));
    signer = {config.id, suite, signing_key.get(),
              crypto::key_id(suite->id(), signing_key->public_key())};
    if (!crypto::ct_equal(
            {me->getSigningKey().getKeyId().begin(), me->getSigningKey().getKeyId().size()},
            signer.key_id)) {
      return unauthenticated(config.id +
                             ": the signing key is not this receiver's in the trust root");
    }
    recovery::GapOptions go;
    go.report_after_ns = std::int64_t{rc.report_after_ms} * ns_per_ms;
    go.rereport_after_ns = std::int64_t{rc.rereport_after_ms} * ns_per_ms;
    go.give_up_after_ns = std::int64_t{rc.give_up_seconds} * ns_per_s;
    gaps.emplace(go);
  }
  return {};
}

Status ReceiverNode::Impl::restore() {
  // The relay's heads kept before a restart (the latest ones): the chain goes on from them.
  {
    std::deque<std::vector<std::uint8_t>> recent;
    CG_ASSIGN_OR_RETURN(auto txn, env->begin_read());
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(heads_table));
    for (;;) {
      CG_ASSIGN_OR_RETURN(auto e, cursor.next());
      if (!e) break;
      recent.emplace_back(e->second.begin(), e->second.end());
      if (recent.size() > tuning::heads_restored_max) recent.pop_front();
    }
    for (const auto& record : recent) {
      auto v = envelope::verify_published_head(record, *root, *suite, &verified);
      if (v.ok()) (void)chain->add_published(*v, clock->now_ns());
    }
  }
  // Epoch keys announced before a restart.
  {
    std::vector<std::vector<std::uint8_t>> stored;
    CG_ASSIGN_OR_RETURN(auto txn, env->begin_read());
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(epochs_table));
    for (auto e = cursor.next();; e = cursor.next()) {
      if (!e.ok()) return e.status();
      if (!e->has_value()) break;
      stored.emplace_back((*e)->second.begin(), (*e)->second.end());
    }
    for (const auto& s : stored) (void)accept(s, /*persist=*/false);
  }
  return {};
}

Status ReceiverNode::Impl::open_link() {
  const auto& li = config.links_in[0];
  CG_ASSIGN_OR_RETURN(auto k, crypto::read_link_key_file(li.key_file));
  link_key.emplace(std::move(k));
  link::ReceiverOptions ro;
  ro.settings = link_settings(li);
  ro.block_timeout_ns = std::int64_t{li.block_timeout_ms} * ns_per_ms;
  CG_RETURN_IF_ERROR(link::validate(ro));
  handler.emplace(config.id, &counters.lost_on_link);
  handler->log = &*events;
  handler->link = li.name;
  CG_ASSIGN_OR_RETURN(
      rx, link::UdpReceiver::open(ro, li.listen, li.rcvbuf_bytes, *link_key, *clock, *handler));
  return {};
}

Status ReceiverNode::Impl::start_delivery() {
  deliver::ServerOptions so;
  so.log = &*events;
  so.endpoint = config.deliver->listen;
  CG_ASSIGN_OR_RETURN(so.secret_z85, read_first_line(config.deliver->curve_secret_file));
  for (const auto& c : config.deliver->consumers) so.consumers.push_back({c.id, c.curve_public});
  so.window_max = config.deliver->window_max;
  so.redeliver_after_ms = config.deliver->redeliver_after_ms;
  server = std::make_unique<deliver::DeliveryServer>(so, *outbox, *clock);
  return server->start();
}

Status ReceiverNode::Impl::register_metrics() {
  metrics.set_node(config.id);
  register_rows(metrics, signature_rows(verified));
  register_rows(metrics, metric_rows(counters));
  register_rows(metrics, recovery_rows(counters));
  register_rows(metrics, delivery_rows(server->counters()));
  register_link_metrics(metrics.registry(), config.links_in[0].name, nullptr,
                        &rx->receiver().counters());
  metrics.registry().gauge("cellgate_deliver_outbox_items",
                           "Items stored for consumers and not yet acknowledged.",
                           {{"node", config.id}}, [this] {
                             auto n = outbox->size();
                             return n.ok() ? static_cast<double>(*n) : -1.0;
                           });
  metrics.registry().histogram(
      "cellgate_receiver_arrival_seconds",
      "From sealing at the origin gateway (envelope time) to stored at this receiver.",
      {{"node", config.id}}, arrival);
  return metrics.start(config);
}

Status ReceiverNode::Impl::accept(std::span<const std::uint8_t> announcement, bool persist) {
  envelope::Announcement fields;
  auto key = envelope::accept_epoch(announcement, *root, *suite, *kx, nullptr, &fields);
  if (!key.ok()) return key.status();
  const auto id = std::make_pair(fields.origin, fields.epoch);
  if (keys.count(id)) return {};
  if (persist) {
    CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
    CG_RETURN_IF_ERROR(
        txn.put(epochs_table, epoch_key_of(fields.origin, fields.epoch), announcement));
    CG_RETURN_IF_ERROR(txn.commit());
  }
  keys.emplace(id, std::move(*key));
  counters.epochs.fetch_add(1);
  return {};
}

void ReceiverNode::Impl::take_controls() {
  for (auto& c : handler->controls) {
    if (envelope::is_stream_head(c)) {
      auto h = envelope::verify_stream_head(c, *root, *suite);
      if (h.ok() && h->destination == config.party) {
        auto& last = stream_heads[{h->origin, h->destination, h->stream}];
        last = std::max(last, h->last_seq);
      }
      continue;
    }
    (void)accept(c, /*persist=*/true);  // others' announcements: refused
  }
  handler->controls.clear();
}

std::vector<std::vector<std::uint8_t>> ReceiverNode::Impl::take_envelopes() {
  std::vector<std::vector<std::uint8_t>> heads;
  for (auto& e : handler->envelopes) {
    if (envelope::is_published_head(e)) {
      heads.push_back(std::move(e));
      continue;
    }
    counters.received.fetch_add(1);
    if (waiting.size() < tuning::waiting_for_epoch_max)
      waiting.push_back(std::move(e));
    else
      counters.refused.fetch_add(1);
  }
  handler->envelopes.clear();
  return heads;
}

Status ReceiverNode::Impl::process() {
  take_controls();
  const auto heads = take_envelopes();
  if (waiting.empty() && heads.empty()) return {};
  const std::int64_t now = clock->now_ns();
  std::vector<std::vector<std::uint8_t>> still;
  CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
  for (const auto& h : heads) CG_RETURN_IF_ERROR(take_head(txn, h, now));
  for (auto& bytes : waiting) {
    CG_ASSIGN_OR_RETURN(const bool wait, take_envelope(txn, bytes, now));
    if (wait) still.push_back(std::move(bytes));  // its announcement has not arrived yet
  }
  CG_RETURN_IF_ERROR(found(txn, chain->tick(now), now));
  CG_RETURN_IF_ERROR(txn.commit());
  waiting = std::move(still);
  counters.waiting_for_epoch.store(waiting.size());
  const auto& c = chain->counters();
  counters.heads.store(c.heads);
  counters.heads_linked.store(c.linked);
  counters.heads_unlinked.store(c.unlinked);
  counters.heads_matched.store(c.matched);
  counters.heads_unverifiable.store(c.unverifiable);
  return {};
}

Result<bool> ReceiverNode::Impl::take_envelope(store::WriteTxn& txn,
                                               std::span<const std::uint8_t> bytes,
                                               std::int64_t now) {
  audit::Event ev{.time_ns = now, .event = schema::AuditEvent::REJECTED_INPUT};
  auto a = envelope::verify_delivery(bytes, *root, *suite, &verified);
  if (!a.ok()) {
    counters.refused.fetch_add(1);
    ev.reason = "verify";
    const std::string why = a.status().reason();
    ev.detail = why;
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    return false;
  }
  const auto h = a->envelope.root().getHeader();
  const std::string origin(wire::view(h.getOrigin()));
  auto key = keys.find({origin, h.getEpoch()});
  if (key == keys.end()) return true;
  // The head this envelope was countersigned under must be the one of its serial.
  CG_RETURN_IF_ERROR(found(txn, chain->add_countersigned(a->relay, a->head, now), now));
  ev.origin = origin;
  ev.destination = wire::view(h.getDestination());
  ev.stream = h.getStream();
  ev.seq = h.getSeq();
  ev.rules_version = h.getRulesVersion();
  auto item = envelope::open(*a, key->second);
  if (!item.ok()) {
    counters.refused.fetch_add(1);
    ev.reason = "open";
    const std::string why = item.status().reason();
    ev.detail = why;
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    return false;
  }
  CG_ASSIGN_OR_RETURN(const bool fresh, first_arrival(txn, origin, h, ev));
  if (!fresh) return false;
  ev.item_id = {item->root().getId().begin(), item->root().getId().size()};
  if (item->root().getKind() == schema::Kind::GAP_REPORT) {
    CG_RETURN_IF_ERROR(take_report(txn, item->root(), ev, now));
    counters.stored.fetch_add(1);
    return false;  // link bookkeeping: not for consumers
  }
  CG_RETURN_IF_ERROR(store_for_consumers(txn, *a, *item, ev, now));
  return false;
}

Result<bool> ReceiverNode::Impl::first_arrival(store::WriteTxn& txn, const std::string& origin,
                                               schema::EnvelopeHeader::Reader h, audit::Event& ev) {
  CG_ASSIGN_OR_RETURN(auto verdict, seen->check_and_mark(txn, origin, h.getStream(), h.getSeq()));
  if (verdict.written_off) {
    const auto& w = *verdict.written_off;
    counters.written_off.fetch_add(w.last - w.first + 1);
    std::fprintf(stderr,
                 "[%s] ALARM: %s seqs %llu..%llu written off: the stream ran more than the "
                 "dedupe window ahead of them\n",
                 config.id.c_str(), origin.c_str(), static_cast<unsigned long long>(w.first),
                 static_cast<unsigned long long>(w.last));
  }
  if (verdict.verdict != deliver::DedupeWindow::Verdict::fresh) {
    counters.duplicates.fetch_add(1);
    ev.event = schema::AuditEvent::DUPLICATE;
    ev.reason = "duplicate";
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    return false;
  }
  const std::string destination(wire::view(h.getDestination()));
  if (gaps && gaps->arrived({origin, destination, h.getStream()}, h.getSeq()))
    counters.recovered.fetch_add(1);
  return true;
}

Status ReceiverNode::Impl::store_for_consumers(store::WriteTxn& txn, const envelope::Accepted& a,
                                               const wire::Message<schema::Item>& item,
                                               audit::Event& ev, std::int64_t now) {
  const auto h = a.envelope.root().getHeader();
  CG_RETURN_IF_ERROR(
      outbox
          ->enqueue(txn, ev.origin, h.getStream(), h.getSeq(), a.log_index, item.canonical_bytes())
          .status());
  ev.event = schema::AuditEvent::DELIVERED;  // stored for delivery; consumers ack it later
  ev.reason = "stored";
  CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
  counters.stored.fetch_add(1);
  arrival.observe(std::max<std::int64_t>(0, now - h.getTime()));
  return {};
}

Status ReceiverNode::Impl::take_head(store::WriteTxn& txn, std::span<const std::uint8_t> record,
                                     std::int64_t now) {
  auto v = envelope::verify_published_head(record, *root, *suite, &verified);
  if (!v.ok()) {
    counters.refused.fetch_add(1);
    const std::string why = v.status().reason();
    audit::Event ev{.time_ns = now,
                    .event = schema::AuditEvent::REJECTED_INPUT,
                    .reason = "tree head",
                    .detail = why};
    return audit_log->append(txn, ev).status();
  }
  CG_RETURN_IF_ERROR(found(txn, chain->add_published(*v, now), now));
  // Kept durably (bounded) for `cellgate audit check-consistency` and an exchange of heads.
  CG_RETURN_IF_ERROR(txn.put(heads_table, head_key_of(v->relay, v->head.serial), record));
  CG_ASSIGN_OR_RETURN(const std::uint64_t kept, txn.count(heads_table));
  if (kept > tuning::heads_kept_max) {
    std::vector<std::uint8_t> oldest;
    {
      CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(heads_table));
      CG_ASSIGN_OR_RETURN(auto first, cursor.next());
      if (first) oldest.assign(first->first.begin(), first->first.end());
    }
    if (!oldest.empty()) CG_RETURN_IF_ERROR(txn.erase(heads_table, oldest).status());
  }
  return {};
}

Status ReceiverNode::Impl::found(store::WriteTxn& txn,
                                 const std::vector<recovery::Evidence>& evidence,
                                 std::int64_t now) {
  for (const auto& e : evidence) {
    counters.equivocation.fetch_add(1);
    std::fprintf(stderr, "[%s] ALARM: equivocation (%s): %s\n", config.id.c_str(),
                 std::string(recovery::evidence_name(e.kind)).c_str(), e.text.c_str());
    const std::string detail = std::string(recovery::evidence_name(e.kind)) + ": " + e.text;
    audit::Event ev{.time_ns = now,
                    .event = schema::AuditEvent::EQUIVOCATION,
                    .origin = e.relay,
                    .reason = recovery::evidence_name(e.kind),
                    .detail = detail};
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    CG_ASSIGN_OR_RETURN(const std::uint64_t n, txn.count(evidence_table));
    CG_RETURN_IF_ERROR(
        txn.put(evidence_table, store::be64(n + 1),
                {reinterpret_cast<const std::uint8_t*>(detail.data()), detail.size()}));
  }
  return {};
}

Status ReceiverNode::Impl::take_report(store::WriteTxn& txn, schema::Item::Reader item,
                                       audit::Event& ev, std::int64_t now) {
  ev.event = schema::AuditEvent::GAP;
  ev.reason = "gap report";
  auto bytes = recovery::report_of(item);
  auto report = bytes.ok() ? recovery::verify_report(*bytes, *root, *suite)
                           : Result<recovery::Report>(bytes.status());
  if (!report.ok()) {
    counters.reports_refused.fetch_add(1);
    ev.event = schema::AuditEvent::REJECTED_INPUT;
    const std::string why = report.status().reason();
    ev.detail = why;
    return audit_log->append(txn, ev).status();
  }
  counters.reports_in.fetch_add(1);
  if (report->head) {
    CG_RETURN_IF_ERROR(found(
        txn, chain->compare_quoted(*report->head, "report of " + report->reporter, now), now));
  }
  // Gaps of this party's gateways' streams: for the gateway to fill.
  bool ours = false;
  for (const auto& g : report->gaps) {
    const auto n = root->node(g.key.origin);
    if (n && wire::view(n->getParty()) == config.party) ours = true;
  }
  std::string detail =
      "from " + report->reporter +
      (report->head ? ", quoting tree head " + std::to_string(report->head->head.serial)
                    : std::string());
  if (ours && config.recovery) {
    recovery::ReportItem how{config.recovery->source_id, config.recovery->label_policy,
                             clock->now_ns(), fresh_id()};
    CG_ASSIGN_OR_RETURN(auto wrapped, recovery::report_item(*bytes, how));
    queue_for_gateway(std::move(wrapped));
    counters.reports_handed_on.fetch_add(1);
    detail += "; handed to this party's gateway";
  }
  ev.detail = detail;
  return audit_log->append(txn, ev).status();
}

std::vector<std::uint8_t> ReceiverNode::Impl::fresh_id() {
  const crypto::Secret r = crypto::Secret::random(limits::item_id_bytes);
  return {r.bytes().begin(), r.bytes().end()};
}

void ReceiverNode::Impl::queue_for_gateway(std::vector<std::uint8_t> item) {
  {
    MutexLock lock(to_gateway_mu);
    if (to_gateway.size() >= tuning::reports_queued_max) {
      to_gateway.pop_front();  // superseded by newer reports
      counters.reports_dropped.fetch_add(1);
    }
    to_gateway.push_back(std::move(item));
  }
  to_gateway_cv.notify_one();
}

Status ReceiverNode::Impl::report(std::int64_t mono) {
  if (!gaps || mono - reported_ns < std::int64_t{config.recovery->report_interval_ms} * ns_per_ms)
    return {};
  reported_ns = mono;
  auto due = gaps->due(mono);
  for (const auto& a : gaps->take_abandoned()) {
    const std::uint64_t n = a.range.last - a.range.first + 1;
    counters.abandoned.fetch_add(n);
    std::fprintf(
        stderr, "[%s] ALARM: gave up on %s seqs %llu..%llu, missing for %lld s (give_up_seconds)\n",
        config.id.c_str(), a.key.origin.c_str(), static_cast<unsigned long long>(a.range.first),
        static_cast<unsigned long long>(a.range.last),
        static_cast<long long>((mono - a.since_ns) / ns_per_s));
  }
  const bool gossip =
      mono - gossiped_ns >= std::int64_t{config.recovery->gossip_interval_ms} * ns_per_ms;
  if (due.empty() && !gossip) return {};
  gossiped_ns = mono;
  recovery::Report r;
  r.time_ns = clock->now_ns();
  std::uint64_t asked = 0;
  for (const auto& g : due)
    for (const auto& range : g.ranges) asked += range.last - range.first + 1;
  r.gaps = std::move(due);
  if (auto q = chain->latest()) {
    if (const auto relay = root->node(q->relay)) {
      const auto id = relay->getSigningKey().getKeyId();
      q->key_id.assign(id.begin(), id.end());
      r.head = std::move(*q);
    }
  }
  CG_ASSIGN_OR_RETURN(auto signed_report, recovery::sign_report(signer, r));
  recovery::ReportItem how{config.recovery->source_id, config.recovery->label_policy,
                           clock->now_ns(), fresh_id()};
  CG_ASSIGN_OR_RETURN(auto item, recovery::report_item(signed_report, how));
  queue_for_gateway(std::move(item));
  counters.reports_sent.fetch_add(1);
  counters.seqs_requested.fetch_add(asked);
  return {};
}

void ReceiverNode::Impl::run_reporter() {
  const auto& r = *config.recovery;
  ErrorLog errors(config.id);
  std::unique_ptr<ingest::SourceClient> client;
  while (!stopping.load()) {
    std::vector<std::uint8_t> item;
    {
      MutexLock lock(to_gateway_mu);
      to_gateway_cv.wait_for(
          lock, std::chrono::milliseconds(tuning::reporter_wait_ms),
          [this]() CG_REQUIRES(to_gateway_mu) { return !to_gateway.empty() || stopping.load(); });
      if (to_gateway.empty()) continue;
      item = to_gateway.front();
    }
    Status s;
    if (!client) {
      auto secret = read_first_line(r.curve_secret_file);
      auto pub = secret.ok() ? ingest::curve_public(*secret) : Result<std::string>(secret.status());
      auto c = pub.ok() ? ingest::SourceClient::connect(r.gateway, r.gateway_curve_public,
                                                        {*pub, *secret},
                                                        tuning::gateway_connect_timeout_ms)
                        : Result<std::unique_ptr<ingest::SourceClient>>(pub.status());
      if (c.ok())
        client = std::move(*c);
      else
        s = c.status();
    }
    if (client && s.ok()) s = client->send(item, tuning::gateway_send_timeout_ms);
    if (s.ok()) {
      auto ack = client->receive_ack(tuning::gateway_ack_timeout_ms);
      if (!ack.ok()) {
        s = ack.status();
      } else if (!ack->accepted && ack->reason != "overloaded") {
        // Refused for good (malformed, unknown source): say so, and do not retry it.
        errors.report("gateway refused a report: " + ack->reason + " " + ack->detail,
                      clock->monotonic_ns());
        counters.reports_dropped.fetch_add(1);
      } else if (!ack->accepted) {
        s = Status(overloaded("gateway overloaded"));
      } else {
        counters.reports_accepted.fetch_add(1);
      }
    }
    if (!s.ok()) {
      errors.report("reports to " + r.gateway + ": " + s.reason(), clock->monotonic_ns());
      client.reset();  // reconnect; the report stays queued
      MutexLock lock(to_gateway_mu);
      to_gateway_cv.wait_for(lock, std::chrono::milliseconds(tuning::reporter_retry_ms),
                             [this] { return stopping.load(); });
      continue;
    }
    MutexLock lock(to_gateway_mu);
    if (!to_gateway.empty() && to_gateway.front() == item) to_gateway.pop_front();
  }
}

void ReceiverNode::Impl::run() {
  ErrorLog errors(config.id);
  while (!stopping.load()) {
    if (auto s = rx->poll_once(tuning::poll_timeout_ms); !s.ok()) {
      counters.errors.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(tuning::poll_timeout_ms));
      continue;
    }
    if (auto s = process(); !s.ok()) {
      counters.errors.fetch_add(1);
      errors.report(s.reason(), clock->monotonic_ns());
    }
    if (auto s = count_gaps(); !s.ok()) {
      counters.errors.fetch_add(1);
      errors.report("gaps: " + s.reason(), clock->monotonic_ns());
    }
    if (auto s = report(clock->monotonic_ns()); !s.ok()) {
      counters.errors.fetch_add(1);
      errors.report("reports: " + s.reason(), clock->monotonic_ns());
    }
  }
}

Status ReceiverNode::Impl::count_gaps() {
  const std::int64_t mono = clock->monotonic_ns();
  if (mono - gaps_counted_ns < tuning::gaps_every_ns) return {};
  gaps_counted_ns = mono;
  std::uint64_t missing = 0;
  std::string ranges;
  for (const auto& origin : origins) {
    const recovery::StreamKey key{origin, config.party, 0};
    std::uint64_t highest = 0;
    CG_ASSIGN_OR_RETURN(auto open, seen->missing(origin, 0, tuning::missing_ranges_max, &highest));
    // Beyond the highest received, up to what the origin says it committed: lost at the tail.
    const auto head = stream_heads.find(key);
    if (head != stream_heads.end() && open.size() < tuning::missing_ranges_max &&
        head->second > highest)
      open.push_back({highest + 1, head->second});
    for (const auto& g : open) {
      missing += g.last - g.first + 1;
      if (ranges.size() < 200)
        ranges += " " + origin + ":" + std::to_string(g.first) + ".." + std::to_string(g.last);
    }
    if (gaps) gaps->update(key, open, mono);
  }
  if (missing != counters.missing.exchange(missing) && missing != 0) {
    std::fprintf(stderr, "[%s] %llu envelope(s) missing:%s\n", config.id.c_str(),
                 static_cast<unsigned long long>(missing), ranges.c_str());
  }
  return {};
}

ReceiverNode::ReceiverNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReceiverNode::~ReceiverNode() { stop(); }

Result<std::unique_ptr<ReceiverNode>> ReceiverNode::start(const config::NodeConfig& config,
                                                          const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->clock = &clock;
  CG_RETURN_IF_ERROR(impl->load());
  std::unique_ptr<ReceiverNode> node(new ReceiverNode(std::move(impl)));
  Impl* i = node->impl_.get();
  node->impl_->thread = std::thread([i] { i->run(); });
  if (config.recovery) node->impl_->reporter = std::thread([i] { i->run_reporter(); });
  return node;
}

void ReceiverNode::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->metrics.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->to_gateway_cv.notify_all();
  if (impl_->reporter.joinable()) impl_->reporter.join();
  if (impl_->server) impl_->server->stop();
}

std::vector<std::uint16_t> ReceiverNode::link_in_ports() const { return {impl_->rx->port()}; }
const std::string& ReceiverNode::deliver_endpoint() const { return impl_->server->endpoint(); }
const ReceiverCounters& ReceiverNode::counters() const { return impl_->counters; }
std::uint16_t ReceiverNode::metrics_port() const { return impl_->metrics.port(); }

}  // namespace cg::node
