#include "gateway/sentlog/sentlog.h"

#include "gateway/common/limits.h"

namespace cg::sentlog {
namespace {

// Stream key: dest_len:u8 dest stream:be32. Envelope key: stream key + seq:be64.
// Time index key: sent_ns:be64 + envelope key (so pruning walks oldest first).
std::vector<std::uint8_t> stream_key(const StreamId& id) {
  CG_ASSERT(!id.destination.empty() && id.destination.size() <= limits::name_bytes_max);
  std::vector<std::uint8_t> k;
  k.reserve(1 + id.destination.size() + 4 + 8);
  k.push_back(static_cast<std::uint8_t>(id.destination.size()));
  k.insert(k.end(), id.destination.begin(), id.destination.end());
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<std::uint8_t>(id.stream >> (8 * i)));
  return k;
}

std::vector<std::uint8_t> envelope_key(const StreamId& id, std::uint64_t seq) {
  auto k = stream_key(id);
  auto s = store::be64(seq);
  k.insert(k.end(), s.begin(), s.end());
  return k;
}

template <typename Txn>
Result<std::uint64_t> read_seq(const Txn& txn, store::Table seqs,
                               const std::vector<std::uint8_t>& key) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(seqs, key));
  if (!v) return std::uint64_t{0};
  auto n = store::from_be64(*v);
  if (!n) return io_error("sentlog: corrupt sequence counter");
  return *n;
}

}  // namespace

Result<SentLog> SentLog::open(store::Env& env) {
  CG_ASSIGN_OR_RETURN(auto seqs, env.table("sent.seqs"));
  CG_ASSIGN_OR_RETURN(auto envelopes, env.table("sent.envelopes"));
  CG_ASSIGN_OR_RETURN(auto by_time, env.table("sent.by_time"));
  return SentLog(&env, seqs, envelopes, by_time);
}

Result<std::uint64_t> SentLog::next_seq(store::WriteTxn& txn, const StreamId& id) {
  const auto key = stream_key(id);
  CG_ASSIGN_OR_RETURN(std::uint64_t last, read_seq(txn, seqs_, key));
  CG_RETURN_IF_ERROR(txn.put(seqs_, key, store::be64(last + 1)));
  return last + 1;
}

Status SentLog::put_assigned(store::WriteTxn& txn, const StreamId& id, std::uint64_t seq,
                             std::int64_t sent_ns, std::span<const std::uint8_t> envelope) {
  const auto key = stream_key(id);
  CG_ASSIGN_OR_RETURN(std::uint64_t last, read_seq(txn, seqs_, key));
  if (seq <= last) {
    return rejected("sentlog: seq " + std::to_string(seq) + " for " + id.destination +
                    " is not above the last one used (" + std::to_string(last) + ")");
  }
  CG_RETURN_IF_ERROR(txn.put(seqs_, key, store::be64(seq)));
  return put(txn, id, seq, sent_ns, envelope);
}

Status SentLog::put(store::WriteTxn& txn, const StreamId& id, std::uint64_t seq,
                    std::int64_t sent_ns, std::span<const std::uint8_t> envelope) {
  CG_ASSIGN_OR_RETURN(std::uint64_t last, read_seq(txn, seqs_, stream_key(id)));
  CG_ASSERT_MSG(seq >= 1 && seq <= last, "sentlog: seq was not reserved");
  const auto key = envelope_key(id, seq);
  CG_RETURN_IF_ERROR(txn.insert(envelopes_, key, envelope));
  std::vector<std::uint8_t> time_key;
  auto t = store::be64(static_cast<std::uint64_t>(sent_ns));
  time_key.insert(time_key.end(), t.begin(), t.end());
  time_key.insert(time_key.end(), key.begin(), key.end());
  return txn.put(by_time_, time_key, {});
}

Result<std::optional<std::vector<std::uint8_t>>> SentLog::get(const StreamId& id,
                                                              std::uint64_t seq) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(auto v, txn.get(envelopes_, envelope_key(id, seq)));
  if (!v) return std::optional<std::vector<std::uint8_t>>();
  return std::optional<std::vector<std::uint8_t>>(std::vector<std::uint8_t>(v->begin(), v->end()));
}

Result<std::uint64_t> SentLog::last_seq(const StreamId& id) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  return read_seq(txn, seqs_, stream_key(id));
}

Result<std::optional<std::uint64_t>> SentLog::first_kept(const StreamId& id) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(envelopes_));
  const auto prefix = stream_key(id);
  CG_ASSIGN_OR_RETURN(auto first, cursor.next(envelope_key(id, 0)));
  if (!first) return std::optional<std::uint64_t>();
  auto k = first->first;
  if (k.size() != prefix.size() + 8 || !std::equal(prefix.begin(), prefix.end(), k.begin())) {
    return std::optional<std::uint64_t>();
  }
  return std::optional<std::uint64_t>(*store::from_be64(k.subspan(prefix.size())));
}

Result<std::size_t> SentLog::prune_before(std::int64_t cutoff_ns, std::size_t max) {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_write());
  std::vector<std::vector<std::uint8_t>> doomed;
  {
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(by_time_));
    for (auto e = cursor.next(); doomed.size() < max; e = cursor.next()) {
      if (!e.ok()) return e.status();
      if (!e->has_value()) break;
      auto k = (*e)->first;
      if (k.size() < 8) return io_error("sentlog: corrupt time index");
      if (static_cast<std::int64_t>(*store::from_be64(k.first(8))) >= cutoff_ns) break;
      doomed.emplace_back(k.begin(), k.end());
    }
  }
  for (const auto& k : doomed) {
    CG_RETURN_IF_ERROR(txn.erase(envelopes_, std::span(k).subspan(8)).status());
    CG_RETURN_IF_ERROR(txn.erase(by_time_, k).status());
  }
  CG_RETURN_IF_ERROR(txn.commit());
  return doomed.size();
}

}  // namespace cg::sentlog
