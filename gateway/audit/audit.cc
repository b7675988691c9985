#include "gateway/audit/audit.h"

#include <capnp/message.h>

#include <cstring>

#include "gateway/common/hex.h"
#include "gateway/wire/wire.h"

namespace cg::audit {
namespace {

constexpr std::string_view kHeadKey = "head";    // value: be64(index) || hash
constexpr std::string_view kSuiteKey = "suite";  // value: u8 SuiteId of the chain's hash

Hash hash_of(const crypto::Suite& suite, std::span<const std::uint8_t> bytes) {
  Hash h(suite.hash_bytes());
  const crypto::Bytes parts[] = {bytes};
  suite.hash(parts, h);
  return h;
}

// The suite the store's chain is hashed under: recorded since the chain followed the suite;
// absent in a store written before, whose chain is BLAKE2b, i.e. modern's.
template <typename Txn>
Result<crypto::SuiteId> recorded_suite(const Txn& txn, store::Table meta) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(meta, store::as_bytes(kSuiteKey)));
  if (!v) return crypto::SuiteId::modern;
  if (v->size() != 1) return malformed("audit: corrupt suite record");
  const auto id = static_cast<crypto::SuiteId>((*v)[0]);
  if (id != crypto::SuiteId::modern && id != crypto::SuiteId::modern_aes &&
      id != crypto::SuiteId::cnsa)
    return malformed("audit: the chain names unknown suite " + std::to_string((*v)[0]));
  return id;
}

// modern and modern-aes share BLAKE2b-256 (and modern-aes is not available without AES-NI).
const crypto::Suite& hashing_suite(crypto::SuiteId id) {
  return id == crypto::SuiteId::cnsa ? crypto::cnsa_suite() : crypto::modern_suite();
}

bool known_event(schema::AuditEvent e) {
  auto v = static_cast<unsigned>(e);
  return v >= 1 && v <= static_cast<unsigned>(schema::AuditEvent::QUARANTINE_APPROVED);
}

}  // namespace

std::string_view event_name(schema::AuditEvent event) {
  switch (event) {
    case schema::AuditEvent::UNSPECIFIED:
      return "unspecified";
    case schema::AuditEvent::ACCEPTED:
      return "accepted";
    case schema::AuditEvent::REJECTED_INPUT:
      return "rejectedInput";
    case schema::AuditEvent::RELEASED:
      return "released";
    case schema::AuditEvent::REDACTED:
      return "redacted";
    case schema::AuditEvent::BLOCKED:
      return "blocked";
    case schema::AuditEvent::QUARANTINED:
      return "quarantined";
    case schema::AuditEvent::QUARANTINE_RELEASED:
      return "quarantineReleased";
    case schema::AuditEvent::QUARANTINE_REJECTED:
      return "quarantineRejected";
    case schema::AuditEvent::RELAYED:
      return "relayed";
    case schema::AuditEvent::RELAY_DROPPED:
      return "relayDropped";
    case schema::AuditEvent::DELIVERED:
      return "delivered";
    case schema::AuditEvent::DUPLICATE:
      return "duplicate";
    case schema::AuditEvent::GAP:
      return "gap";
    case schema::AuditEvent::BUNDLE_LOADED:
      return "bundleLoaded";
    case schema::AuditEvent::BUNDLE_REFUSED:
      return "bundleRefused";
    case schema::AuditEvent::TRUST_ROOT_LOADED:
      return "trustRootLoaded";
    case schema::AuditEvent::TRUST_ROOT_REFUSED:
      return "trustRootRefused";
    case schema::AuditEvent::EQUIVOCATION:
      return "equivocation";
    case schema::AuditEvent::QUARANTINE_APPROVED:
      return "quarantineApproved";
  }
  return "unknown";
}

Result<AuditLog> AuditLog::open(store::Env& env, std::string node, const crypto::Suite& suite) {
  if (node.empty() || node.size() > limits::name_bytes_max) return malformed("audit: bad node id");
  CG_ASSIGN_OR_RETURN(auto records, env.table("audit.records"));
  CG_ASSIGN_OR_RETURN(auto meta, env.table("audit.meta"));
  CG_ASSIGN_OR_RETURN(auto txn, env.begin_write());
  CG_ASSIGN_OR_RETURN(auto recorded, txn.get(meta, store::as_bytes(kSuiteKey)));
  if (recorded) {
    CG_ASSIGN_OR_RETURN(const auto id, recorded_suite(txn, meta));
    if (id != suite.id())
      return malformed("audit: this store's chain is hashed under suite " +
                       std::string(crypto::suite_name(id)) + ", the node runs " +
                       std::string(crypto::suite_name(suite.id())));
  } else {
    CG_ASSIGN_OR_RETURN(auto head, txn.get(meta, store::as_bytes(kHeadKey)));
    if (head && suite.id() != crypto::SuiteId::modern)
      return malformed(
          "audit: this store's chain predates the suite record (BLAKE2b), the node "
          "runs " +
          std::string(crypto::suite_name(suite.id())));
    const std::uint8_t id = static_cast<std::uint8_t>(suite.id());
    CG_RETURN_IF_ERROR(txn.put(meta, store::as_bytes(kSuiteKey), std::span(&id, 1)));
  }
  CG_RETURN_IF_ERROR(txn.commit());
  return AuditLog(&env, std::move(node), &suite, records, meta);
}

namespace {
template <typename Txn>
Result<std::pair<std::uint64_t, Hash>> read_head(const Txn& txn, store::Table meta,
                                                 std::size_t hash_bytes) {
  CG_ASSIGN_OR_RETURN(auto head, txn.get(meta, store::as_bytes(kHeadKey)));
  std::pair<std::uint64_t, Hash> out{0, Hash(hash_bytes, 0)};
  if (!head) return out;
  if (head->size() != 8 + hash_bytes) return io_error("audit: corrupt head record");
  out.first = *store::from_be64(head->first(8));
  std::copy(head->begin() + 8, head->end(), out.second.begin());
  return out;
}
}  // namespace

Result<std::pair<std::uint64_t, Hash>> AuditLog::head() const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  return read_head(txn, meta_, suite_->hash_bytes());
}

Result<std::uint64_t> AuditLog::append(store::WriteTxn& txn, const Event& e) {
  CG_ASSERT(known_event(e.event));
  // The head is read through the caller's transaction, so several appends in one transaction
  // chain onto each other and an aborted transaction leaves nothing behind.
  CG_ASSIGN_OR_RETURN(auto prev, read_head(txn, meta_, suite_->hash_bytes()));

  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<schema::AuditRecord>();
  r.setTime(e.time_ns);
  r.setNode(node_);
  r.setEvent(e.event);
  r.setItemId(kj::arrayPtr(e.item_id.data(), e.item_id.size()));
  r.setOrigin(kj::StringPtr(std::string(e.origin).c_str()));
  r.setDestination(kj::StringPtr(std::string(e.destination).c_str()));
  r.setStream(e.stream);
  r.setSeq(e.seq);
  r.setRulesVersion(e.rules_version);
  r.setReason(kj::StringPtr(std::string(e.reason).c_str()));
  // Details are bounded so one record stays within the record size limit.
  constexpr std::size_t detail_bytes_max = limits::audit_record_bytes_max / 2;
  std::string detail(e.detail.substr(0, detail_bytes_max));
  r.setDetail(kj::StringPtr(detail.c_str()));
  r.setPreviousHash(kj::arrayPtr(prev.second.data(), prev.second.size()));
  auto canonical = wire::canonical(r.asReader());
  auto bytes = canonical.canonical_bytes();

  const std::uint64_t index = prev.first + 1;
  CG_RETURN_IF_ERROR(txn.put(records_, store::be64(index), bytes));
  const Hash hash = hash_of(*suite_, bytes);
  std::vector<std::uint8_t> head(8 + hash.size());
  auto key = store::be64(index);
  std::copy(key.begin(), key.end(), head.begin());
  std::copy(hash.begin(), hash.end(), head.begin() + 8);
  CG_RETURN_IF_ERROR(txn.put(meta_, store::as_bytes(kHeadKey), head));
  return index;
}

namespace {
const wire::DecodeLimits record_limits{limits::audit_record_bytes_max,
                                       limits::audit_record_bytes_max / 8 * 8};

// Reads every field once inside the decode boundary, so later readers cannot meet a pointer
// of the wrong type (Cap'n Proto checks types lazily).
Status check_fields(schema::AuditRecord::Reader r) {
  if (!known_event(r.getEvent())) return malformed("audit record: unknown event");
  // The suite's hash size (checked against the chain by verify): 32 or 48 bytes.
  const auto ph = r.getPreviousHash().size();
  if (ph != 32 && ph != 48) return malformed("audit record: bad previous hash");
  if (!wire::is_clean_name(wire::view(r.getNode()))) return malformed("audit record: bad node");
  std::size_t total = r.getItemId().size() + r.getOrigin().size() + r.getDestination().size() +
                      r.getReason().size() + r.getDetail().size();
  if (total > limits::audit_record_bytes_max) return malformed("audit record: too large");
  return {};
}

Result<wire::Message<schema::AuditRecord>> decode_record(std::span<const std::uint8_t> bytes) {
  auto m = wire::decode_canonical<schema::AuditRecord>(bytes, record_limits, check_fields);
  if (!m.ok()) {
    std::string reason = m.status().reason();
    if (reason.rfind("message: ", 0) == 0) reason = "audit record: " + reason.substr(9);
    return malformed(reason);
  }
  return m;
}
}  // namespace

Status check_record(std::span<const std::uint8_t> bytes) { return decode_record(bytes).status(); }

Result<VerifyReport> verify(
    store::Env& env, const std::function<void(std::uint64_t, schema::AuditRecord::Reader)>& visit) {
  CG_ASSIGN_OR_RETURN(auto records, env.table("audit.records"));
  CG_ASSIGN_OR_RETURN(auto meta, env.table("audit.meta"));
  CG_ASSIGN_OR_RETURN(auto txn, env.begin_read());
  CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(records));
  VerifyReport report;
  CG_ASSIGN_OR_RETURN(report.suite, recorded_suite(txn, meta));
  const crypto::Suite* suite = &hashing_suite(report.suite);
  Hash prev(suite->hash_bytes(), 0);
  std::uint64_t expected = 1;
  auto fail = [&](std::uint64_t at, std::string why) {
    report.broken_at = at;
    report.problem = std::move(why);
    return report;
  };
  for (auto e = cursor.next();; e = cursor.next()) {
    if (!e.ok()) return e.status();
    if (!e->has_value()) break;
    auto index = store::from_be64((*e)->first);
    if (!index) return fail(expected, "record key is not an index");
    if (*index != expected) {
      return fail(expected, "record " + std::to_string(expected) + " is missing (next is " +
                                std::to_string(*index) + ")");
    }
    auto bytes = (*e)->second;
    auto message = decode_record(bytes);
    if (!message.ok()) return fail(*index, message.status().reason());
    auto r = message->root();
    auto ph = r.getPreviousHash();
    if (!std::equal(ph.begin(), ph.end(), prev.begin(), prev.end())) {
      return fail(*index, "record " + std::to_string(*index) +
                              ": previous hash does not match record " +
                              std::to_string(*index - 1) + " (changed, removed or reordered)");
    }
    if (visit) visit(*index, r);
    prev = hash_of(*suite, bytes);
    report.records = *index;
    ++expected;
  }
  report.head = prev;
  CG_ASSIGN_OR_RETURN(auto head, txn.get(meta, store::as_bytes(kHeadKey)));
  if (report.records == 0 && !head) return report;
  if (!head || head->size() != 8 + prev.size())
    return fail(expected, "head record missing or corrupt");
  if (*store::from_be64(head->first(8)) != report.records ||
      !std::equal(head->begin() + 8, head->end(), prev.begin(), prev.end())) {
    return fail(expected, "head names record " + std::to_string(*store::from_be64(head->first(8))) +
                              " but the chain ends at " + std::to_string(report.records) +
                              " (records truncated or head rewritten)");
  }
  return report;
}

}  // namespace cg::audit
