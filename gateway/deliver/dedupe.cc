#include <cstring>

#include "gateway/common/limits.h"
#include "gateway/deliver/deliver.h"

namespace cg::deliver {
namespace {

// Stream key: origin_len:u8 origin stream:be32. Seen key: stream key + seq:be64, so the seen
// seqs of one stream are contiguous and ordered.
std::vector<std::uint8_t> stream_key(std::string_view origin, std::uint32_t stream) {
  CG_ASSERT(origin.size() <= limits::name_bytes_max);
  std::vector<std::uint8_t> k;
  k.reserve(1 + origin.size() + 4 + 8);
  k.push_back(static_cast<std::uint8_t>(origin.size()));
  k.insert(k.end(), origin.begin(), origin.end());
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<std::uint8_t>(stream >> (8 * i)));
  return k;
}

std::vector<std::uint8_t> seen_key(const std::vector<std::uint8_t>& prefix, std::uint64_t seq) {
  auto k = prefix;
  auto s = store::be64(seq);
  k.insert(k.end(), s.begin(), s.end());
  return k;
}

template <typename Txn>
Result<std::uint64_t> read_floor(const Txn& txn, store::Table floors,
                                 const std::vector<std::uint8_t>& key) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(floors, key));
  if (!v) return std::uint64_t{0};
  auto f = store::from_be64(*v);
  if (!f) return io_error("dedupe: corrupt floor");
  return *f;
}

}  // namespace

Result<DedupeWindow> DedupeWindow::open(store::Env& env, std::uint64_t window_seqs) {
  if (window_seqs == 0) return malformed("dedupe: window must be positive");
  CG_ASSIGN_OR_RETURN(auto floors, env.table("dedupe.floors"));
  CG_ASSIGN_OR_RETURN(auto seen, env.table("dedupe.seen"));
  return DedupeWindow(&env, floors, seen, window_seqs);
}

Result<DedupeWindow::Outcome> DedupeWindow::check_and_mark(store::WriteTxn& txn,
                                                           std::string_view origin,
                                                           std::uint32_t stream,
                                                           std::uint64_t seq) {
  Outcome out;
  if (seq == 0) return out;  // never valid
  const auto prefix = stream_key(origin, stream);
  CG_ASSIGN_OR_RETURN(std::uint64_t floor, read_floor(txn, floors_, prefix));
  if (seq <= floor) return out;  // seen, or written off
  const auto key = seen_key(prefix, seq);
  CG_ASSIGN_OR_RETURN(auto existing, txn.get(seen_, key));
  if (existing) return out;
  out.verdict = Verdict::fresh;

  // Too far ahead: write off everything more than the window below `seq` so per-stream state
  // stays bounded. Those seqs are reported (they are lost unless recovered) and, if they come
  // later, are dropped as duplicates.
  std::uint64_t new_floor = floor;
  if (seq - floor > window_) {
    new_floor = seq - window_;
    out.written_off = SeqRange{floor + 1, new_floor};
    // Delete seen markers at or below the new floor.
    std::vector<std::vector<std::uint8_t>> doomed;
    {
      CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(seen_));
      for (auto e = cursor.next(seen_key(prefix, floor + 1));; e = cursor.next()) {
        if (!e.ok()) return e.status();
        if (!e->has_value()) break;
        auto k = (*e)->first;
        if (k.size() != prefix.size() + 8 || !std::equal(prefix.begin(), prefix.end(), k.begin()))
          break;
        if (*store::from_be64(k.subspan(prefix.size())) > new_floor) break;
        doomed.emplace_back(k.begin(), k.end());
      }
    }
    // Seqs of the range that had arrived are not lost; the range is what can no longer arrive.
    for (const auto& d : doomed) CG_RETURN_IF_ERROR(txn.erase(seen_, d).status());
  }
  // Mark seq, then advance the floor over any contiguous run of seen seqs above it.
  if (seq == new_floor + 1) {
    new_floor = seq;
    for (;;) {
      auto next = seen_key(prefix, new_floor + 1);
      CG_ASSIGN_OR_RETURN(auto present, txn.erase(seen_, next));
      if (!present) break;
      ++new_floor;
    }
  } else {
    CG_RETURN_IF_ERROR(txn.put(seen_, key, {}));
  }
  if (new_floor != floor) CG_RETURN_IF_ERROR(txn.put(floors_, prefix, store::be64(new_floor)));
  return out;
}

Result<std::uint64_t> DedupeWindow::floor(std::string_view origin, std::uint32_t stream) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  return read_floor(txn, floors_, stream_key(origin, stream));
}

Result<std::vector<SeqRange>> DedupeWindow::missing(std::string_view origin, std::uint32_t stream,
                                                    std::size_t max_ranges,
                                                    std::uint64_t* highest) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  const auto prefix = stream_key(origin, stream);
  CG_ASSIGN_OR_RETURN(std::uint64_t floor, read_floor(txn, floors_, prefix));
  CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(seen_));
  std::vector<SeqRange> out;
  std::uint64_t expected = floor + 1;
  for (auto e = cursor.next(seen_key(prefix, floor + 1));; e = cursor.next()) {
    if (!e.ok()) return e.status();
    if (!e->has_value()) break;
    auto k = (*e)->first;
    if (k.size() != prefix.size() + 8 || !std::equal(prefix.begin(), prefix.end(), k.begin()))
      break;
    const std::uint64_t seq = *store::from_be64(k.subspan(prefix.size()));
    if (seq > expected) {
      if (out.size() == max_ranges) {  // more ranges than asked for: the listing is cut
        expected = 0;
        break;
      }
      out.push_back({expected, seq - 1});
    }
    expected = seq + 1;
  }
  if (highest) *highest = expected == 0 ? 0 : expected - 1;
  return out;
}

}  // namespace cg::deliver
