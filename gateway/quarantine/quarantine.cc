#include "gateway/quarantine/quarantine.h"

#include <algorithm>

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

}  // namespace

Result<Quarantine> Quarantine::open(store::Env& env) {
  CG_ASSIGN_OR_RETURN(auto held, env.table("quarantine"));
  CG_ASSIGN_OR_RETURN(auto meta, env.table("quarantine_meta"));
  CG_ASSIGN_OR_RETURN(auto requests, env.table("quarantine_releases"));
  return Quarantine(&env, held, meta, requests);
}

Status Quarantine::request_release(store::WriteTxn& txn, const ReleaseRequest& r) {
  if (r.key_id.empty() || r.key_id.size() > 64 || r.signature.empty() || r.signature.size() > 255) {
    return malformed("quarantine release: key id or signature out of bounds");
  }
  CG_ASSIGN_OR_RETURN(auto h, txn.get(held_, store::be64(r.hold)));
  if (!h) return rejected("no hold " + std::to_string(r.hold));
  std::vector<std::uint8_t> v;
  v.push_back(static_cast<std::uint8_t>(r.key_id.size()));
  v.insert(v.end(), r.key_id.begin(), r.key_id.end());
  v.insert(v.end(), r.signature.begin(), r.signature.end());
  return txn.put(requests_, store::be64(r.hold), v);
}

Result<std::vector<Quarantine::ReleaseRequest>> Quarantine::release_requests(
    store::WriteTxn& txn, std::size_t max) const {
  std::vector<ReleaseRequest> out;
  CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(requests_));
  while (out.size() < max) {
    CG_ASSIGN_OR_RETURN(auto e, cursor.next());
    if (!e) break;
    ReleaseRequest r;
    r.hold = store::from_be64(e->first).value_or(0);
    const auto v = e->second;
    if (!v.empty() && v.size() >= 2u + v[0]) {  // else corrupt: empty key id, refused later
      r.key_id.assign(v.begin() + 1, v.begin() + 1 + v[0]);
      r.signature.assign(v.begin() + 1 + v[0], v.end());
    }
    out.push_back(std::move(r));
  }
  return out;
}

Status Quarantine::drop_request(store::WriteTxn& txn, std::uint64_t hold) {
  return txn.erase(requests_, store::be64(hold)).status();
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
                                                        const approval::Verifier& verifier) {
  std::vector<std::uint8_t> m(release_context.begin(), release_context.end());
  m.push_back(0);
  const auto id = store::be64(held.id);
  m.insert(m.end(), id.begin(), id.end());
  m.push_back(static_cast<std::uint8_t>(held.destination.size()));
  m.insert(m.end(), held.destination.begin(), held.destination.end());
  const auto h = verifier.hash(held.item);
  m.insert(m.end(), h.begin(), h.end());
  return m;
}

namespace {
Result<Held> take(store::WriteTxn& txn, store::Table table, std::uint64_t id) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(table, store::be64(id)));
  if (!v) return rejected("quarantine: no hold " + std::to_string(id));
  CG_ASSIGN_OR_RETURN(auto h, decode(id, *v));
  CG_RETURN_IF_ERROR(txn.erase(table, store::be64(id)).status());
  return h;
}
}  // namespace

Result<Held> Quarantine::release(store::WriteTxn& txn, std::uint64_t id,
                                 const approval::TrustRoot& root, std::string_view party,
                                 Bytes key_id, Bytes signature,
                                 const approval::Verifier& verifier) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(held_, store::be64(id)));
  if (!v) return rejected("quarantine: no hold " + std::to_string(id));
  CG_ASSIGN_OR_RETURN(auto held, decode(id, *v));
  const auto p = root.party(party);
  if (!p) return unauthenticated("quarantine: party '" + std::string(party) + "' has no reviewers");
  std::optional<schema::PublicKey::Reader> key;
  for (const auto k : p->getReviewers()) {
    const auto kid = k.getKeyId();
    if (std::equal(kid.begin(), kid.end(), key_id.begin(), key_id.end())) key = k;
  }
  if (!key) {
    return unauthenticated("quarantine: key is not a reviewer of party '" + std::string(party) +
                           "'");
  }
  const auto statement = release_statement(held, verifier);
  if (auto s = verifier.verify(*key, statement, signature); !s.ok()) {
    return unauthenticated("quarantine: release of hold " + std::to_string(id) + " by " +
                           std::string(wire::view(key->getName())) +
                           ": signature does not verify (" + s.reason() + ")");
  }
  return take(txn, held_, id);
}

Result<Held> Quarantine::reject(store::WriteTxn& txn, std::uint64_t id) {
  return take(txn, held_, id);
}

}  // namespace cg::quarantine
