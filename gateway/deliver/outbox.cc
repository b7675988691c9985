#include "gateway/common/byte_reader.h"
#include "gateway/common/limits.h"
#include "gateway/deliver/deliver.h"

namespace cg::deliver {
namespace {

constexpr std::string_view kLastId = "last_id";

// Queue value layout (little-endian):
//   origin_len:u8 origin stream:u32 seq:u64 log_index:u64 item...
std::vector<std::uint8_t> encode(std::string_view origin, std::uint32_t stream, std::uint64_t seq,
                                 std::uint64_t log_index, std::span<const std::uint8_t> item) {
  std::vector<std::uint8_t> out;
  out.reserve(1 + origin.size() + 20 + item.size());
  ByteWriter w(out);
  w.u8(static_cast<std::uint8_t>(origin.size()));
  w.bytes(store::as_bytes(origin));
  w.u32(stream);
  w.u64(seq);
  w.u64(log_index);
  w.bytes(item);
  return out;
}

Result<Pending> decode(std::uint64_t id, store::Bytes value) {
  ByteReader r(value);
  Pending p;
  p.delivery_id = id;
  auto len = r.u8();
  auto origin = len ? r.bytes(*len) : std::nullopt;
  auto stream = r.u32();
  auto seq = r.u64();
  auto log_index = r.u64();
  if (!r.ok() || !origin || !stream || !seq || !log_index) {
    return io_error("outbox: corrupt entry " + std::to_string(id));
  }
  p.origin.assign(reinterpret_cast<const char*>(origin->data()), origin->size());
  p.stream = *stream;
  p.seq = *seq;
  p.log_index = *log_index;
  auto rest = r.rest();
  p.item.assign(rest.begin(), rest.end());
  return p;
}

}  // namespace

Result<Outbox> Outbox::open(store::Env& env) {
  CG_ASSIGN_OR_RETURN(auto queue, env.table("outbox.queue"));
  CG_ASSIGN_OR_RETURN(auto meta, env.table("outbox.meta"));
  return Outbox(&env, queue, meta);
}

Result<std::uint64_t> Outbox::enqueue(store::WriteTxn& txn, std::string_view origin,
                                      std::uint32_t stream, std::uint64_t seq,
                                      std::uint64_t log_index, std::span<const std::uint8_t> item) {
  if (origin.empty() || origin.size() > limits::name_bytes_max)
    return malformed("outbox: bad origin");
  CG_ASSIGN_OR_RETURN(auto last, txn.get(meta_, store::as_bytes(kLastId)));
  std::uint64_t id = 1;
  if (last) {
    auto v = store::from_be64(*last);
    if (!v) return io_error("outbox: corrupt counter");
    id = *v + 1;
  }
  CG_RETURN_IF_ERROR(
      txn.put(queue_, store::be64(id), encode(origin, stream, seq, log_index, item)));
  CG_RETURN_IF_ERROR(txn.put(meta_, store::as_bytes(kLastId), store::be64(id)));
  return id;
}

Result<std::size_t> Outbox::acknowledge(std::span<const std::uint64_t> delivery_ids) {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_write());
  std::size_t removed = 0;
  for (std::uint64_t id : delivery_ids) {
    CG_ASSIGN_OR_RETURN(bool existed, txn.erase(queue_, store::be64(id)));
    removed += existed ? 1 : 0;
  }
  if (removed == 0) return removed;
  CG_RETURN_IF_ERROR(txn.commit());
  return removed;
}

Result<std::optional<Pending>> Outbox::get(std::uint64_t delivery_id) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(auto v, txn.get(queue_, store::be64(delivery_id)));
  if (!v) return std::optional<Pending>();
  CG_ASSIGN_OR_RETURN(auto p, decode(delivery_id, *v));
  return std::optional<Pending>(std::move(p));
}

Result<std::vector<Pending>> Outbox::read(std::uint64_t after, std::size_t max) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(queue_));
  std::vector<Pending> out;
  for (auto e = cursor.next(store::be64(after + 1)); out.size() < max; e = cursor.next()) {
    if (!e.ok()) return e.status();
    if (!e->has_value()) break;
    auto id = store::from_be64((*e)->first);
    if (!id) return io_error("outbox: corrupt key");
    CG_ASSIGN_OR_RETURN(auto p, decode(*id, (*e)->second));
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::uint64_t> Outbox::size() const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  return txn.count(queue_);
}

}  // namespace cg::deliver
