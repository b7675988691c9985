#include "gateway/quarantine/quarantine.h"

#include <algorithm>

#include "gateway/common/assert.h"
#include "gateway/common/byte_reader.h"
#include "gateway/common/limits.h"
#include "gateway/wire/wire.h"

namespace cg::quarantine {
namespace {

constexpr std::string_view next_id_key = "next_id";

Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Stored value: i64 held_at | u64 rules_version | u16 len, destination | u32 len, explanation
// | u32 len, item. Little-endian.
std::vector<std::uint8_t> encode(std::int64_t held_at, std::string_view destination,
                                 std::uint64_t rules_version, std::string_view explanation,
                                 Bytes item) {
  std::vector<std::uint8_t> out;
  out.reserve(28 + destination.size() + explanation.size() + item.size());
  ByteWriter w(out);
  w.u64(static_cast<std::uint64_t>(held_at));
  w.u64(rules_version);
  w.u16(static_cast<std::uint16_t>(destination.size()));
  w.bytes(as_bytes(destination));
  w.u32(static_cast<std::uint32_t>(explanation.size()));
  w.bytes(as_bytes(explanation));
  w.u32(static_cast<std::uint32_t>(item.size()));
  w.bytes(item);
  return out;
}

Result<Held> decode(std::uint64_t id, Bytes value) {
  ByteReader r(value);
  Held h;
  h.id = id;
  auto at = r.u64();
  auto version = r.u64();
  auto dlen = r.u16();
  auto dest = dlen ? r.bytes(*dlen) : std::nullopt;
  auto elen = r.u32();
  auto expl = elen ? r.bytes(*elen) : std::nullopt;
  auto ilen = r.u32();
  auto item = ilen ? r.bytes(*ilen) : std::nullopt;
  if (!r.at_end() || !at || !version || !dest || !expl || !item) {
    return io_error("quarantine: stored hold " + std::to_string(id) + " is corrupt");
  }
  h.held_at = static_cast<std::int64_t>(*at);
  h.rules_version = *version;
  h.destination.assign(dest->begin(), dest->end());
  h.explanation.assign(expl->begin(), expl->end());
  h.item.assign(item->begin(), item->end());
  return h;
}

// Request key: be64(hold) || key id. Verdict key: be64(hold) || u8 decision || key id; value:
// u8 outcome || detail. Approval key: be64(hold) || key id; value: the signature.
std::vector<std::uint8_t> hold_key(std::uint64_t hold, Bytes key_id) {
  auto k = store::be64(hold);
  std::vector<std::uint8_t> out(k.begin(), k.end());
  out.insert(out.end(), key_id.begin(), key_id.end());
  return out;
}

std::vector<std::uint8_t> verdict_key(std::uint64_t hold, Decision d, Bytes key_id) {
  auto k = store::be64(hold);
  std::vector<std::uint8_t> out(k.begin(), k.end());
  out.push_back(static_cast<std::uint8_t>(d));
  out.insert(out.end(), key_id.begin(), key_id.end());
  return out;
}

// Every entry of `table` under hold `id` (keys starting with be64(id)), through a read or a
// write transaction.
using Entries = std::vector<std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>>;
template <typename Txn>
Result<Entries> entries_of(const Txn& txn, store::Table table, std::uint64_t id) {
  const auto prefix = store::be64(id);
  Entries out;
  CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(table));
  for (auto e = cursor.next(prefix);; e = cursor.next()) {
    if (!e.ok()) return e.status();
    if (!e->has_value()) break;
    const Bytes k = (*e)->first;
    if (k.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), k.begin())) break;
    out.emplace_back(std::vector<std::uint8_t>(k.begin(), k.end()),
                     std::vector<std::uint8_t>((*e)->second.begin(), (*e)->second.end()));
  }
  return out;
}

}  // namespace

std::string_view to_string(Decision d) { return d == Decision::reject ? "reject" : "release"; }

Result<Quarantine> Quarantine::open(store::Env& env) {
  CG_ASSIGN_OR_RETURN(auto held, env.table("quarantine"));
  CG_ASSIGN_OR_RETURN(auto meta, env.table("quarantine_meta"));
  CG_ASSIGN_OR_RETURN(auto requests, env.table("quarantine_releases"));
  CG_ASSIGN_OR_RETURN(auto rejects, env.table("quarantine_rejects"));
  CG_ASSIGN_OR_RETURN(auto verdicts, env.table("quarantine_verdicts"));
  CG_ASSIGN_OR_RETURN(auto approvals, env.table("quarantine_approvals"));
  return Quarantine(&env, held, meta, requests, rejects, verdicts, approvals);
}

// Stored request: u8 len, key id || signature (release) or u8 len, key id || u8 len, signature
// || reason (reject).
Status Quarantine::request(store::WriteTxn& txn, const Request& r) {
  if (r.key_id.empty() || r.key_id.size() > trust::key_id_bytes_max || r.signature.empty() ||
      r.signature.size() > 255) {
    return malformed("quarantine " + std::string(to_string(r.decision)) +
                     ": key id or signature out of bounds");
  }
  if (r.decision == Decision::reject && (r.reason.empty() || r.reason.size() > reason_bytes_max)) {
    return malformed("quarantine reject: the reason must be 1 to " +
                     std::to_string(reason_bytes_max) + " bytes");
  }
  CG_ASSIGN_OR_RETURN(auto h, txn.get(held_, store::be64(r.hold)));
  if (!h) return rejected("no hold " + std::to_string(r.hold));
  std::vector<std::uint8_t> v;
  v.push_back(static_cast<std::uint8_t>(r.key_id.size()));
  v.insert(v.end(), r.key_id.begin(), r.key_id.end());
  if (r.decision == Decision::reject) v.push_back(static_cast<std::uint8_t>(r.signature.size()));
  v.insert(v.end(), r.signature.begin(), r.signature.end());
  if (r.decision == Decision::reject) v.insert(v.end(), r.reason.begin(), r.reason.end());
  CG_RETURN_IF_ERROR(txn.erase(verdicts_, verdict_key(r.hold, r.decision, r.key_id)).status());
  return txn.put(r.decision == Decision::reject ? rejects_ : requests_, hold_key(r.hold, r.key_id),
                 v);
}

Result<std::vector<Quarantine::Request>> Quarantine::requests(store::WriteTxn& txn,
                                                              std::size_t max) const {
  std::vector<Request> out;
  for (const Decision d : {Decision::release, Decision::reject}) {
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(d == Decision::reject ? rejects_ : requests_));
    while (out.size() < max) {
      CG_ASSIGN_OR_RETURN(auto e, cursor.next());
      if (!e) break;
      Request r;
      r.decision = d;
      r.hold = e->first.size() >= 8 ? store::from_be64(e->first.first(8)).value_or(0) : 0;
      // A corrupt value leaves the key id empty: the gateway refuses it as unauthenticated.
      ByteReader in(e->second);
      auto klen = in.u8();
      auto kid = klen ? in.bytes(*klen) : std::nullopt;
      auto slen = d == Decision::reject && kid ? in.u8() : std::nullopt;
      auto sig = d == Decision::reject ? (slen ? in.bytes(*slen) : std::nullopt)
                                       : in.bytes(in.remaining());
      auto reason = d == Decision::reject ? in.bytes(in.remaining()) : std::nullopt;
      if (kid && sig) {
        r.key_id.assign(kid->begin(), kid->end());
        r.signature.assign(sig->begin(), sig->end());
        if (reason) r.reason.assign(reason->begin(), reason->end());
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

Status Quarantine::drop_request(store::WriteTxn& txn, const Request& r) {
  return txn
      .erase(r.decision == Decision::reject ? rejects_ : requests_, hold_key(r.hold, r.key_id))
      .status();
}

Status Quarantine::record_verdict(store::WriteTxn& txn, const Request& r, const Verdict& verdict) {
  std::vector<std::uint8_t> v{static_cast<std::uint8_t>(verdict.outcome)};
  v.insert(v.end(), verdict.detail.begin(), verdict.detail.end());
  CG_RETURN_IF_ERROR(txn.put(verdicts_, verdict_key(r.hold, r.decision, r.key_id), v));
  CG_ASSIGN_OR_RETURN(const auto n, txn.count(verdicts_));
  if (n <= verdicts_max) return {};
  std::vector<std::vector<std::uint8_t>> oldest;
  {
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(verdicts_));
    while (oldest.size() < n - verdicts_max) {
      CG_ASSIGN_OR_RETURN(auto e, cursor.next());
      if (!e) break;
      oldest.emplace_back(e->first.begin(), e->first.end());
    }
  }
  for (const auto& k : oldest) CG_RETURN_IF_ERROR(txn.erase(verdicts_, k).status());
  return {};
}

Result<std::optional<Quarantine::Verdict>> Quarantine::verdict(std::uint64_t hold,
                                                               Decision decision,
                                                               Bytes key_id) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(auto v, txn.get(verdicts_, verdict_key(hold, decision, key_id)));
  if (!v) return std::optional<Verdict>();
  if (v->empty() || (*v)[0] > static_cast<std::uint8_t>(Outcome::counted)) {
    return io_error("quarantine: stored verdict on hold " + std::to_string(hold) + " is corrupt");
  }
  return std::optional<Verdict>(
      Verdict{static_cast<Outcome>((*v)[0]), std::string(v->begin() + 1, v->end())});
}

Result<std::uint64_t> Quarantine::hold(store::WriteTxn& txn, std::int64_t now_ns,
                                       std::string_view destination, std::uint64_t rules_version,
                                       std::string_view explanation, Bytes item) {
  if (!wire::is_clean_name(destination)) return malformed("quarantine: bad destination name");
  if (item.empty() || item.size() > limits::item_bytes_max) {
    return malformed("quarantine: item size out of bounds");
  }
  constexpr std::string_view cut = " [explanation cut]";
  std::string text(explanation);
  if (text.size() > explanation_bytes_max) {
    text.resize(explanation_bytes_max - cut.size());
    text += cut;
  }
  std::uint64_t id = 1;
  CG_ASSIGN_OR_RETURN(auto stored, txn.get(meta_, as_bytes(next_id_key)));
  if (stored) {
    auto v = store::from_be64(*stored);
    if (!v) return io_error("quarantine: corrupt id counter");
    id = *v;
  }
  CG_RETURN_IF_ERROR(txn.put(meta_, as_bytes(next_id_key), store::be64(id + 1)));
  CG_RETURN_IF_ERROR(
      txn.insert(held_, store::be64(id), encode(now_ns, destination, rules_version, text, item)));
  return id;
}

Result<std::vector<Held>> Quarantine::list(std::uint64_t after, std::size_t max) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(held_));
  std::vector<Held> out;
  const auto start = store::be64(after + 1);
  for (auto e = cursor.next(start); out.size() < max; e = cursor.next()) {
    if (!e.ok()) return e.status();
    if (!e->has_value()) break;
    auto id = store::from_be64((*e)->first);
    if (!id) return io_error("quarantine: corrupt key");
    CG_ASSIGN_OR_RETURN(auto h, decode(*id, (*e)->second));
    out.push_back(std::move(h));
  }
  return out;
}

Result<std::optional<Held>> Quarantine::get(std::uint64_t id) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(auto v, txn.get(held_, store::be64(id)));
  if (!v) return std::optional<Held>();
  CG_ASSIGN_OR_RETURN(auto h, decode(id, *v));
  return std::optional<Held>(std::move(h));
}

Result<std::uint64_t> Quarantine::size() const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  return txn.count(held_);
}

std::vector<std::uint8_t> Quarantine::release_statement(const Held& held,
                                                        const trust::Verifier& verifier) {
  return statement(Decision::release, held, {}, verifier);
}

std::vector<std::uint8_t> Quarantine::statement(Decision decision, const Held& held,
                                                std::string_view reason,
                                                const trust::Verifier& verifier) {
  const std::string_view context = decision == Decision::reject ? reject_context : release_context;
  std::vector<std::uint8_t> m(context.begin(), context.end());
  m.push_back(0);
  const auto id = store::be64(held.id);
  m.insert(m.end(), id.begin(), id.end());
  m.push_back(static_cast<std::uint8_t>(held.destination.size()));
  m.insert(m.end(), held.destination.begin(), held.destination.end());
  const auto h = verifier.hash(held.item);
  m.insert(m.end(), h.begin(), h.end());
  if (decision == Decision::reject) {
    m.push_back(static_cast<std::uint8_t>(reason.size() >> 8));
    m.push_back(static_cast<std::uint8_t>(reason.size()));
    m.insert(m.end(), reason.begin(), reason.end());
  }
  return m;
}

Result<std::string> Quarantine::authorize(Decision decision, const Held& held,
                                          std::string_view reason, const trust::TrustRoot& root,
                                          std::string_view party, Bytes key_id, Bytes signature,
                                          const trust::Verifier& verifier) {
  const std::string what =
      "quarantine: " + std::string(to_string(decision)) + " of hold " + std::to_string(held.id);
  if (decision == Decision::reject && (reason.empty() || reason.size() > reason_bytes_max)) {
    return malformed(what + ": the reason must be 1 to " + std::to_string(reason_bytes_max) +
                     " bytes");
  }
  const auto p = root.party(party);
  if (!p) return unauthenticated(what + ": party '" + std::string(party) + "' has no reviewers");
  std::optional<schema::PublicKey::Reader> key;
  for (const auto k : p->getReviewers()) {
    const auto kid = k.getKeyId();
    if (std::equal(kid.begin(), kid.end(), key_id.begin(), key_id.end())) key = k;
  }
  if (!key) {
    return unauthenticated(what + ": key is not a reviewer of party '" + std::string(party) + "'");
  }
  const std::string name(wire::view(key->getName()));
  if (auto s = verifier.verify(*key, statement(decision, held, reason, verifier), signature);
      !s.ok()) {
    return unauthenticated(what + " by " + name + ": signature does not verify (" + s.reason() +
                           ")");
  }
  return name;
}

Result<Held> Quarantine::take(store::WriteTxn& txn, std::uint64_t id) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(held_, store::be64(id)));
  if (!v) return rejected("quarantine: no hold " + std::to_string(id));
  CG_ASSIGN_OR_RETURN(auto h, decode(id, *v));
  CG_RETURN_IF_ERROR(txn.erase(held_, store::be64(id)).status());
  CG_ASSIGN_OR_RETURN(const auto approvals, entries_of(txn, approvals_, id));
  for (const auto& [k, sig] : approvals) CG_RETURN_IF_ERROR(txn.erase(approvals_, k).status());
  return h;
}

Result<Quarantine::ReleaseProgress> Quarantine::approve_release(
    store::WriteTxn& txn, std::uint64_t id, const trust::TrustRoot& root, std::string_view party,
    Bytes key_id, Bytes signature, const trust::Verifier& verifier, std::string* reviewer) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(held_, store::be64(id)));
  if (!v) return rejected("quarantine: no hold " + std::to_string(id));
  CG_ASSIGN_OR_RETURN(auto held, decode(id, *v));
  CG_ASSIGN_OR_RETURN(
      auto name, authorize(Decision::release, held, {}, root, party, key_id, signature, verifier));
  if (reviewer != nullptr) *reviewer = name;
  const auto p = root.party(party);
  CG_ASSERT(p.has_value());  // authorize() found the reviewer in it
  ReleaseProgress progress;
  progress.threshold = p->getReleaseThreshold();
  // Every approval kept so far, counted again under this root; this one last.
  CG_ASSIGN_OR_RETURN(const auto kept, entries_of(txn, approvals_, id));
  for (const auto& [k, sig] : kept) {
    const Bytes kid = Bytes(k).subspan(8);
    if (std::equal(kid.begin(), kid.end(), key_id.begin(), key_id.end())) {
      return rejected("quarantine: release of hold " + std::to_string(id) + ": " + name +
                      " approved it already; a reviewer counts once");
    }
    auto who = authorize(Decision::release, held, {}, root, party, kid, sig, verifier);
    if (who.ok()) {
      progress.reviewers.push_back(std::move(*who));
      progress.approvals.emplace_back(std::vector<std::uint8_t>(kid.begin(), kid.end()),
                                      std::vector<std::uint8_t>(sig.begin(), sig.end()));
    } else {  // no longer a reviewer of the party under this root: it stops counting
      CG_RETURN_IF_ERROR(txn.erase(approvals_, k).status());
    }
  }
  CG_RETURN_IF_ERROR(txn.put(approvals_, hold_key(id, key_id), signature));
  progress.reviewers.push_back(std::move(name));
  progress.approvals.emplace_back(std::vector<std::uint8_t>(key_id.begin(), key_id.end()),
                                  std::vector<std::uint8_t>(signature.begin(), signature.end()));
  if (progress.reviewers.size() >= progress.threshold) {
    CG_RETURN_IF_ERROR(take(txn, id).status());
    progress.released = true;
  }
  progress.held = std::move(held);
  return progress;
}

Result<std::vector<std::string>> Quarantine::approvers(std::uint64_t id,
                                                       const trust::TrustRoot& root,
                                                       std::string_view party,
                                                       const trust::Verifier& verifier) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(auto v, txn.get(held_, store::be64(id)));
  if (!v) return rejected("quarantine: no hold " + std::to_string(id));
  CG_ASSIGN_OR_RETURN(auto held, decode(id, *v));
  CG_ASSIGN_OR_RETURN(const auto kept, entries_of(txn, approvals_, id));
  std::vector<std::string> names;
  for (const auto& [k, sig] : kept) {
    auto who =
        authorize(Decision::release, held, {}, root, party, Bytes(k).subspan(8), sig, verifier);
    if (who.ok()) names.push_back(std::move(*who));
  }
  return names;
}

Result<std::vector<std::vector<std::uint8_t>>> Quarantine::approval_keys(std::uint64_t id) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(const auto kept, entries_of(txn, approvals_, id));
  std::vector<std::vector<std::uint8_t>> keys;
  for (const auto& [k, sig] : kept) keys.emplace_back(k.begin() + 8, k.end());
  return keys;
}

Result<Held> Quarantine::reject(store::WriteTxn& txn, std::uint64_t id, std::string_view reason,
                                const trust::TrustRoot& root, std::string_view party, Bytes key_id,
                                Bytes signature, const trust::Verifier& verifier,
                                std::string* reviewer) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(held_, store::be64(id)));
  if (!v) return rejected("quarantine: no hold " + std::to_string(id));
  CG_ASSIGN_OR_RETURN(auto held, decode(id, *v));
  CG_ASSIGN_OR_RETURN(auto name, authorize(Decision::reject, held, reason, root, party, key_id,
                                           signature, verifier));
  if (reviewer != nullptr) *reviewer = std::move(name);
  return take(txn, id);
}

}  // namespace cg::quarantine
