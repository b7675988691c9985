#include <string>

#include "gateway/common/byte_reader.h"
#include "gateway/ingest/ingest.h"

namespace cg::ingest {
namespace {

// Inbox value layout (little-endian):
//   id_len:u8 id source_len:u16 source received_ns:u64 item...
std::vector<std::uint8_t> encode_entry(std::span<const std::uint8_t> id, std::string_view source,
                                       std::int64_t received_ns,
                                       std::span<const std::uint8_t> item) {
  std::vector<std::uint8_t> out;
  out.reserve(1 + id.size() + 2 + source.size() + 8 + item.size());
  ByteWriter w(out);
  w.u8(static_cast<std::uint8_t>(id.size()));
  w.bytes(id);
  w.u16(static_cast<std::uint16_t>(source.size()));
  w.bytes(store::as_bytes(source));
  w.u64(static_cast<std::uint64_t>(received_ns));
  w.bytes(item);
  return out;
}

struct DecodedEntry {
  InboxEntry entry;
  std::vector<std::uint8_t> id;
};

Result<DecodedEntry> decode_entry(std::uint64_t seq, store::Bytes value) {
  ByteReader r(value);
  DecodedEntry d;
  InboxEntry& e = d.entry;
  e.seq = seq;
  auto id_len = r.u8();
  auto id = id_len ? r.bytes(*id_len) : std::nullopt;
  if (id) d.id.assign(id->begin(), id->end());
  auto len = r.u16();
  auto src = len ? r.bytes(*len) : std::nullopt;
  auto received = r.u64();
  if (!r.ok() || !src || !received) return io_error("inbox: corrupt entry " + std::to_string(seq));
  e.source.assign(reinterpret_cast<const char*>(src->data()), src->size());
  e.received_ns = static_cast<std::int64_t>(*received);
  auto rest = r.rest();
  e.item.assign(rest.begin(), rest.end());
  return d;
}

constexpr std::string_view kNextSeq = "next_seq";
constexpr std::string_view kConsumed = "consumed_through";

template <typename Txn>
Result<std::uint64_t> read_counter(const Txn& txn, store::Table meta, std::string_view key) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(meta, store::as_bytes(key)));
  if (!v) return std::uint64_t{0};
  auto n = store::from_be64(*v);
  if (!n) return io_error("inbox: corrupt counter " + std::string(key));
  return *n;
}

}  // namespace

Result<Inbox> Inbox::open(store::Env& env) {
  CG_ASSIGN_OR_RETURN(auto items, env.table("inbox.items"));
  CG_ASSIGN_OR_RETURN(auto ids, env.table("inbox.ids"));
  CG_ASSIGN_OR_RETURN(auto meta, env.table("inbox.meta"));
  CG_ASSIGN_OR_RETURN(auto flash, env.table("inbox.flash"));
  return Inbox(&env, items, ids, meta, flash);
}

Result<Inbox::Appended> Inbox::append(store::WriteTxn& txn, std::span<const std::uint8_t> item_id,
                                      std::string_view source, std::int64_t received_ns,
                                      std::span<const std::uint8_t> canonical_item,
                                      bool flash) {
  CG_ASSIGN_OR_RETURN(auto existing, txn.get(ids_, item_id));
  if (existing) {
    auto seq = store::from_be64(*existing);
    if (!seq) return io_error("inbox: corrupt id index");
    return Appended{*seq, false};
  }
  CG_ASSIGN_OR_RETURN(std::uint64_t last, read_counter(txn, meta_, kNextSeq));
  const std::uint64_t seq = last + 1;  // sequences start at 1
  auto key = store::be64(seq);
  CG_RETURN_IF_ERROR(
      txn.put(items_, key, encode_entry(item_id, source, received_ns, canonical_item)));
  CG_RETURN_IF_ERROR(txn.put(ids_, item_id, key));
  CG_RETURN_IF_ERROR(txn.put(meta_, store::as_bytes(kNextSeq), key));
  if (flash) CG_RETURN_IF_ERROR(txn.put(flash_, key, std::vector<std::uint8_t>{0}));
  return Appended{seq, true};
}

Result<std::vector<InboxEntry>> Inbox::read_pending(std::size_t max) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(std::uint64_t consumed, read_counter(txn, meta_, kConsumed));
  CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(items_));
  std::vector<InboxEntry> out;
  auto seek = store::be64(consumed + 1);
  for (auto e = cursor.next(seek); out.size() < max; e = cursor.next()) {
    if (!e.ok()) return e.status();
    if (!e->has_value()) break;
    auto seq = store::from_be64((*e)->first);
    if (!seq) return io_error("inbox: corrupt key");
    CG_ASSIGN_OR_RETURN(auto decoded, decode_entry(*seq, (*e)->second));
    CG_ASSIGN_OR_RETURN(auto lane, txn.get(flash_, (*e)->first));
    decoded.entry.taken = lane && !lane->empty() && (*lane)[0] == 1;
    out.push_back(std::move(decoded.entry));
  }
  return out;
}

Result<std::vector<InboxEntry>> Inbox::read_flash(std::size_t max) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(std::uint64_t consumed, read_counter(txn, meta_, kConsumed));
  CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(flash_));
  std::vector<InboxEntry> out;
  auto seek = store::be64(consumed + 1);
  for (auto e = cursor.next(seek); out.size() < max; e = cursor.next()) {
    if (!e.ok()) return e.status();
    if (!e->has_value()) break;
    if ((*e)->second.empty() || (*e)->second[0] != 0) continue;  // taken
    auto seq = store::from_be64((*e)->first);
    if (!seq) return io_error("inbox: corrupt FLASH lane key");
    CG_ASSIGN_OR_RETURN(auto value, txn.get(items_, (*e)->first));
    if (!value) return io_error("inbox: FLASH lane names a missing entry " + std::to_string(*seq));
    CG_ASSIGN_OR_RETURN(auto decoded, decode_entry(*seq, *value));
    out.push_back(std::move(decoded.entry));
  }
  return out;
}

Status Inbox::take(store::WriteTxn& txn, std::uint64_t seq) {
  return txn.put(flash_, store::be64(seq), std::vector<std::uint8_t>{1});
}

Status Inbox::consume_through(store::WriteTxn& txn, std::uint64_t seq) {
  CG_ASSIGN_OR_RETURN(std::uint64_t consumed, read_counter(txn, meta_, kConsumed));
  CG_ASSIGN_OR_RETURN(std::uint64_t last, read_counter(txn, meta_, kNextSeq));
  CG_ASSERT_MSG(seq >= consumed && seq <= last, "inbox consumed out of order");
  // The FLASH lane keeps only what is not consumed: at most the FLASH items in flight.
  std::vector<std::vector<std::uint8_t>> done;
  {
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(flash_));
    for (auto e = cursor.next();; e = cursor.next()) {
      if (!e.ok()) return e.status();
      if (!e->has_value()) break;
      auto s = store::from_be64((*e)->first);
      if (!s || *s > seq) break;
      done.emplace_back((*e)->first.begin(), (*e)->first.end());
    }
  }
  for (const auto& k : done) CG_RETURN_IF_ERROR(txn.erase(flash_, k).status());
  return txn.put(meta_, store::as_bytes(kConsumed), store::be64(seq));
}

Status Inbox::prune_through(std::uint64_t seq) {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_write());
  CG_ASSIGN_OR_RETURN(std::uint64_t consumed, read_counter(txn, meta_, kConsumed));
  const std::uint64_t upto = std::min(seq, consumed);  // never prune what is not consumed
  std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> doomed;  // seq, item id
  {
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(items_));
    for (auto e = cursor.next();; e = cursor.next()) {
      if (!e.ok()) return e.status();
      if (!e->has_value()) break;
      auto s = store::from_be64((*e)->first);
      if (!s) return io_error("inbox: corrupt key");
      if (*s > upto) break;
      CG_ASSIGN_OR_RETURN(auto decoded, decode_entry(*s, (*e)->second));
      doomed.emplace_back(*s, std::move(decoded.id));
    }
  }
  for (const auto& [s, id] : doomed) {
    CG_RETURN_IF_ERROR(txn.erase(items_, store::be64(s)).status());
    CG_RETURN_IF_ERROR(txn.erase(ids_, id).status());
  }
  return txn.commit();
}

Result<std::size_t> Inbox::prune_before(std::int64_t cutoff_ns, std::size_t max) {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_write());
  CG_ASSIGN_OR_RETURN(std::uint64_t consumed, read_counter(txn, meta_, kConsumed));
  std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> doomed;  // seq, item id
  {
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(items_));
    while (doomed.size() < max) {
      CG_ASSIGN_OR_RETURN(auto e, cursor.next());
      if (!e) break;
      auto s = store::from_be64(e->first);
      if (!s) return io_error("inbox: corrupt key");
      if (*s > consumed) break;  // never prune what is not consumed
      CG_ASSIGN_OR_RETURN(auto decoded, decode_entry(*s, e->second));
      if (decoded.entry.received_ns >= cutoff_ns) break;
      doomed.emplace_back(*s, std::move(decoded.id));
    }
  }
  if (doomed.empty()) return std::size_t{0};
  for (const auto& [s, id] : doomed) {
    CG_RETURN_IF_ERROR(txn.erase(items_, store::be64(s)).status());
    CG_RETURN_IF_ERROR(txn.erase(ids_, id).status());
  }
  CG_RETURN_IF_ERROR(txn.commit());
  return doomed.size();
}

Result<std::uint64_t> Inbox::pending() const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(std::uint64_t last, read_counter(txn, meta_, kNextSeq));
  CG_ASSIGN_OR_RETURN(std::uint64_t consumed, read_counter(txn, meta_, kConsumed));
  // FLASH items judged ahead of the in-order pass are not pending (the lane holds only what
  // is not consumed: at most the FLASH items in flight).
  std::uint64_t taken = 0;
  CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(flash_));
  for (auto e = cursor.next();; e = cursor.next()) {
    if (!e.ok()) return e.status();
    if (!e->has_value()) break;
    if (!(*e)->second.empty() && (*e)->second[0] == 1) ++taken;
  }
  return last - consumed - taken;
}

Result<std::uint64_t> Inbox::consumed_through() const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  return read_counter(txn, meta_, kConsumed);
}

}  // namespace cg::ingest
