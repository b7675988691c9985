#include "bench/lab/traffic/traffic.h"

#include <capnp/message.h>

#include <algorithm>
#include <deque>
#include <thread>

#include "bench/lab/synth/synth.h"
#include "gateway/common/clock.h"
#include "gateway/common/hex.h"
#include "gateway/deliver/deliver.h"
#include "gateway/wire/wire.h"

namespace cg::traffic {

Result<std::unique_ptr<Expectations>> Expectations::create(std::string_view policy_text,
                                                           std::string_view destination) {
  std::unique_ptr<Expectations> e(new Expectations());
  CG_ASSIGN_OR_RETURN(e->policy_, policy::Policy::parse(policy_text, "policy"));
  const auto d = e->policy_->destination_index(destination);
  if (!d) return malformed("the policy has no destination '" + std::string(destination) + "'");
  e->destination_ = *d;
  CG_ASSIGN_OR_RETURN(auto ev, policy::Evaluator::create(*e->policy_));
  e->evaluator_.emplace(std::move(ev));
  return e;
}

Result<Fate> Expectations::judge(std::span<const std::uint8_t> item_bytes) {
  CG_ASSIGN_OR_RETURN(auto item, wire::decode_item(item_bytes));
  const auto id_reader = item.root().getId();
  std::vector<std::uint8_t> id(id_reader.begin(), id_reader.end());
  Record r;
  r.precedence = item.root().getPrecedence();
  r.sent = SteadyClock::now();
  MutexLock lock(mu_);
  if (auto it = records_.find(id); it != records_.end()) return it->second.fate;
  policy::Decision d;
  evaluator_->decide(item.root(), destination_, SystemClock().now_ns(), d);
  ++totals_.judged;
  if (d.outcome == policy::Outcome::block) {
    r.fate = Fate::blocked;
    ++totals_.blocked;
  } else if (d.outcome == policy::Outcome::quarantine) {
    r.fate = Fate::quarantined;
    ++totals_.quarantined;
  } else if (d.changed) {
    r.fate = Fate::redacted;
    ++totals_.released;
    ++totals_.redacted;
    capnp::MallocMessageBuilder mb;
    policy::build_released(*policy_, item.root(), d, mb.initRoot<schema::Item>());
    auto c = wire::canonical(mb.getRoot<schema::Item>().asReader());
    r.released.assign(c.canonical_bytes().begin(), c.canonical_bytes().end());
  } else {
    r.fate = Fate::released;
    ++totals_.released;
    r.released.assign(item.canonical_bytes().begin(), item.canonical_bytes().end());
  }
  const Fate fate = r.fate;
  records_.emplace(std::move(id), std::move(r));
  return fate;
}

void Expectations::accepted(const std::vector<std::uint8_t>& id) {
  MutexLock lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end() || it->second.accepted) return;
  it->second.accepted = true;
  ++totals_.accepted;
  if (it->second.fate == Fate::released || it->second.fate == Fate::redacted)
    ++totals_.accepted_releasable;
}

Expectations::Delivery Expectations::delivered(const std::string& origin, std::uint64_t seq,
                                               std::span<const std::uint8_t> item_bytes) {
  Delivery out;
  auto item = wire::decode_canonical_item(item_bytes);
  if (!item.ok()) return out;
  const auto id_reader = item->root().getId();
  const std::vector<std::uint8_t> id(id_reader.begin(), id_reader.end());
  out.precedence = item->root().getPrecedence();
  MutexLock lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end() ||
      (it->second.fate != Fate::released && it->second.fate != Fate::redacted)) {
    return out;  // never sent, or held back by the policy
  }
  // An item may arrive before its ack does (the ack was lost with a gateway that crashed
  // after storing it; the source's re-send is acknowledged later): it counts once acked.
  auto& r = it->second;
  out.expected = true;
  out.identical =
      std::equal(item_bytes.begin(), item_bytes.end(), r.released.begin(), r.released.end());
  const auto key = std::make_pair(origin, seq);
  if (!r.delivered_as) {
    r.delivered_as = key;
    out.first = true;
    ++totals_.delivered_distinct;
    out.latency_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - r.sent).count();
    latency_ms_[out.precedence].push_back(out.latency_ms);
  } else if (*r.delivered_as == key) {
    out.redelivery = true;
  } else {
    out.second_seq = true;
  }
  return out;
}

Expectations::Totals Expectations::totals() const {
  MutexLock lock(mu_);
  return totals_;
}

std::map<schema::Precedence, std::vector<double>> Expectations::latencies() const {
  MutexLock lock(mu_);
  return latency_ms_;
}

std::set<std::pair<std::string, std::uint64_t>> Expectations::delivered_keys() const {
  std::set<std::pair<std::string, std::uint64_t>> out;
  MutexLock lock(mu_);
  for (const auto& [id, r] : records_)
    if (r.delivered_as) out.insert(*r.delivered_as);
  return out;
}

std::vector<std::string> Expectations::missing(std::size_t max) const {
  std::vector<std::string> out;
  MutexLock lock(mu_);
  for (const auto& [id, r] : records_) {
    if (out.size() >= max) break;
    if (r.accepted && (r.fate == Fate::released || r.fate == Fate::redacted) && !r.delivered_as)
      out.push_back(to_hex(id));
  }
  return out;
}

Status run_source(const SourceOptions& o, Expectations& expect, SourceCounters& counters,
                  const std::atomic<bool>& stop) {
  CG_ASSIGN_OR_RETURN(
      auto client, ingest::SourceClient::connect(o.endpoint, o.server_public_z85, o.keys, 30'000));
  synth::Generator gen({.seed = o.seed,
                        .source = o.source_id,
                        .body_bytes = o.body_bytes,
                        .now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count()});
  struct Pending {
    std::vector<std::uint8_t> bytes;
    SteadyClock::time_point sent;
  };
  std::map<std::vector<std::uint8_t>, Pending> pending;  // by item id
  std::uint64_t next = 0;
  // last_ack: any answer; last_accept: progress (an overloaded gateway answers, but a source
  // that is only ever refused must stop some time).
  auto last_ack = SteadyClock::now(), last_resend = SteadyClock::now(),
       last_accept = SteadyClock::now();
  auto since = [](SteadyClock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count();
  };
  auto handle = [&](const ingest::Ack& ack) -> Status {
    last_ack = SteadyClock::now();
    auto it = pending.find(ack.item_id);
    if (it == pending.end()) return {};  // a second ack for a re-sent item
    if (ack.accepted) {
      last_accept = SteadyClock::now();
      counters.accepted.fetch_add(1);
      counters.accepted_bytes.fetch_add(it->second.bytes.size());
      expect.accepted(ack.item_id);
      pending.erase(it);
      return {};
    }
    if (ack.reason == "overloaded") {  // stays pending: re-sent when quiet
      counters.refused_overloaded.fetch_add(1);
      return {};
    }
    counters.rejected_other.fetch_add(1);
    return rejected("the gateway refused a valid item: " + ack.reason + " " + ack.detail);
  };
  while (!stop.load() && (next < o.items || !pending.empty())) {
    while (next < o.items && pending.size() < o.window && !stop.load()) {
      ++next;
      if (o.malformed_every != 0 && next % o.malformed_every == 0) {
        // Malformed input: its ack cannot name an item; wait for it here (bounded).
        const auto bad =
            gen.malformed_bytes(static_cast<synth::Malformation>((next / o.malformed_every) % 4));
        CG_RETURN_IF_ERROR(client->send(bad, o.give_up_ms));
        counters.sent.fetch_add(1);
        for (;;) {
          auto ack = client->receive_ack(o.give_up_ms);
          if (!ack.ok()) return io_error("no ack for a malformed input: " + ack.status().reason());
          if (!ack->accepted && !pending.count(ack->item_id)) {
            counters.rejected_malformed.fetch_add(1);  // refused, naming no item in flight
            break;
          }
          CG_RETURN_IF_ERROR(handle(*ack));
        }
        continue;
      }
      auto bytes = gen.next_bytes();
      CG_ASSIGN_OR_RETURN(const auto fate, expect.judge(bytes));
      (void)fate;
      auto item = wire::decode_item(bytes);
      if (!item.ok()) return malformed("generated item: " + item.status().reason());
      std::vector<std::uint8_t> id(item->root().getId().begin(), item->root().getId().end());
      CG_RETURN_IF_ERROR(client->send(bytes, o.give_up_ms));
      counters.sent.fetch_add(1);
      pending.emplace(std::move(id), Pending{std::move(bytes), SteadyClock::now()});
    }
    auto ack = client->receive_ack(200);
    if (ack.ok()) {
      CG_RETURN_IF_ERROR(handle(*ack));
      continue;
    }
    if (ack.status().code() != Code::io) return ack.status();
    if (since(last_accept) > o.give_up_ms) {
      return io_error("nothing accepted by the gateway for " + std::to_string(o.give_up_ms) +
                      " ms");
    }
    if (since(last_ack) > o.quiet_resend_ms && since(last_resend) > o.quiet_resend_ms) {
      // The gateway went quiet (restarting?): what it did not acknowledge goes again; it
      // acknowledges what it had already stored as a retry.
      last_resend = SteadyClock::now();
      for (auto& [id, p] : pending) {
        if (!client->send(p.bytes, 1000).ok()) break;
        counters.resent.fetch_add(1);
      }
    }
  }
  return {};
}

Status run_consumer(const ConsumerOptions& o, Expectations& expect, ConsumerCounters& counters,
                    const std::atomic<bool>& stop) {
  std::unique_ptr<deliver::ConsumerClient> client;
  auto quiet_since = SteadyClock::now();
  while (!stop.load()) {
    if (!client) {
      auto c =
          deliver::ConsumerClient::connect(o.endpoint, o.server_public_z85, o.keys, o.window, 2000);
      if (!c.ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;  // the receiver is not up (yet, or again)
      }
      client = std::move(*c);
      quiet_since = SteadyClock::now();
    }
    auto d = client->receive(200);
    if (!d.ok()) {
      if (d.status().code() != Code::io) return d.status();
      // Quiet for long: the receiver may have restarted and forgotten this consumer's ready;
      // connect again (what was not acknowledged is delivered again).
      if (SteadyClock::now() - quiet_since > std::chrono::seconds(3)) client.reset();
      continue;
    }
    quiet_since = SteadyClock::now();
    counters.deliveries.fetch_add(1);
    const auto r = expect.delivered(d->origin, d->seq, d->item);
    if (!r.expected)
      counters.unexpected.fetch_add(1);
    else if (!r.identical)
      counters.differing.fetch_add(1);
    else if (r.first)
      counters.verified.fetch_add(1);
    if (r.redelivery) counters.redeliveries.fetch_add(1);
    if (r.second_seq) counters.duplicates.fetch_add(1);
    CG_RETURN_IF_ERROR(client->acknowledge(*d));
  }
  return {};
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace cg::traffic
