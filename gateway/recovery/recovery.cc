#include "gateway/recovery/recovery.h"

#include <capnp/message.h>

#include <algorithm>
#include <utility>

#include "gateway/common/byte_reader.h"
#include "gateway/common/limits.h"
#include "gateway/wire/wire.h"

namespace cg::recovery {
namespace {

constexpr std::string_view report_context = "cellgate receiver report v1";
constexpr wire::DecodeLimits report_limits{64u << 10, (64u << 10) / 8 * 2};
constexpr std::size_t small_bytes_max = 256;

Bytes span_of(capnp::Data::Reader d) { return {d.begin(), d.size()}; }
capnp::Data::Reader data_of(Bytes b) { return {b.data(), b.size()}; }
capnp::Text::Reader text_of(std::string_view s) { return {s.data(), s.size()}; }

std::vector<std::uint8_t> context_message(Bytes body) {
  std::vector<std::uint8_t> m(report_context.begin(), report_context.end());
  m.push_back(0);
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

Status small(capnp::Data::Reader d, const char* what) {
  if (d.size() == 0 || d.size() > small_bytes_max)
    return malformed(std::string("receiver report: ") + what + ": size out of bounds");
  return {};
}

Status validate_report(schema::ReceiverReport::Reader r) {
  const auto suite = r.getSuite();
  if (suite != schema::Suite::MODERN && suite != schema::Suite::MODERN_AES &&
      suite != schema::Suite::CNSA) {
    return malformed("receiver report: unknown suite");
  }
  if (!wire::is_clean_name(wire::view(r.getReporter())))
    return malformed("receiver report: bad reporter");
  CG_RETURN_IF_ERROR(small(r.getKeyId(), "keyId"));
  CG_RETURN_IF_ERROR(small(r.getSignature(), "signature"));
  if (r.getGaps().size() > limits::gap_streams_max)
    return malformed("receiver report: too many streams");
  std::uint64_t seqs = 0;
  for (auto g : r.getGaps()) {
    if (!wire::is_clean_name(wire::view(g.getOrigin())) ||
        !wire::is_clean_name(wire::view(g.getDestination()))) {
      return malformed("receiver report: bad origin or destination");
    }
    if (g.getRanges().size() == 0 || g.getRanges().size() > limits::gap_ranges_max)
      return malformed("receiver report: number of ranges out of bounds");
    std::uint64_t after = 0;
    for (auto range : g.getRanges()) {
      if (range.getFirst() == 0 || range.getFirst() > range.getLast() ||
          range.getFirst() <= after) {
        return malformed("receiver report: ranges empty, unsorted or overlapping");
      }
      const std::uint64_t n = range.getLast() - range.getFirst() + 1;
      if (n > limits::gap_report_seqs_max || (seqs += n) > limits::gap_report_seqs_max)
        return malformed("receiver report: asks for too many seqs");
      after = range.getLast();
    }
  }
  if (r.hasHead()) {
    const auto t = r.getHead();
    if (!wire::is_clean_name(wire::view(t.getRelay())) || t.getSerial() == 0 ||
        t.getTreeSize() == 0) {
      return malformed("receiver report: bad tree head");
    }
    CG_RETURN_IF_ERROR(small(t.getRootHash(), "head rootHash"));
    CG_RETURN_IF_ERROR(small(t.getKeyId(), "head keyId"));
    CG_RETURN_IF_ERROR(small(t.getSignature(), "head signature"));
  }
  return {};
}

std::vector<std::uint8_t> report_message(schema::ReceiverReport::Reader r) {
  capnp::MallocMessageBuilder mb;
  mb.setRoot(r);
  auto b = mb.getRoot<schema::ReceiverReport>();
  if (b.hasSignature()) b.disownSignature();
  return context_message(wire::canonical(b.asReader()).canonical_bytes());
}

std::uint64_t count(const SeqRange& r) { return r.last - r.first + 1; }

bool same_head(const envelope::TreeHead& a, const envelope::TreeHead& b) {
  return a.tree_size == b.tree_size && a.root_hash == b.root_hash;
}

std::string describe(const envelope::TreeHead& h) {
  return "serial " + std::to_string(h.serial) + " (size " + std::to_string(h.tree_size) + ")";
}

// Adds `r` to sorted, disjoint `ranges`, merging; keeps at most `max` (dropping the lowest).
void add_range(std::vector<SeqRange>& ranges, SeqRange r, std::size_t max) {
  ranges.push_back(r);
  std::sort(ranges.begin(), ranges.end(),
            [](const SeqRange& a, const SeqRange& b) { return a.first < b.first; });
  std::vector<SeqRange> merged;
  for (const auto& x : ranges) {
    if (!merged.empty() && x.first <= merged.back().last + 1)
      merged.back().last = std::max(merged.back().last, x.last);
    else
      merged.push_back(x);
  }
  if (merged.size() > max) merged.erase(merged.begin(), merged.end() - static_cast<long>(max));
  ranges = std::move(merged);
}

// `missing` minus `minus` (both sorted, disjoint).
std::vector<SeqRange> subtract(std::span<const SeqRange> missing, std::span<const SeqRange> minus) {
  std::vector<SeqRange> out;
  std::size_t j = 0;
  for (SeqRange r : missing) {
    while (j < minus.size() && minus[j].last < r.first) ++j;
    std::size_t k = j;
    while (k < minus.size() && minus[k].first <= r.last) {
      if (minus[k].first > r.first) out.push_back({r.first, minus[k].first - 1});
      if (minus[k].last >= r.last) {
        r.first = r.last + 1;  // consumed
        break;
      }
      r.first = minus[k].last + 1;
      ++k;
    }
    if (r.first <= r.last) out.push_back(r);
  }
  return out;
}

}  // namespace

// --- Reports ---------------------------------------------------------------------------------

Result<std::vector<std::uint8_t>> sign_report(const envelope::Signer& signer,
                                              const Report& report) {
  capnp::MallocMessageBuilder mb;
  auto r = mb.initRoot<schema::ReceiverReport>();
  r.setSuite(static_cast<schema::Suite>(signer.suite->id()));
  r.setReporter(signer.node);
  r.setKeyId(data_of(signer.key_id));
  r.setTime(report.time_ns);
  auto gaps = r.initGaps(static_cast<unsigned>(std::min<std::size_t>(report.gaps.size(), 65535)));
  for (unsigned i = 0; i < gaps.size(); ++i) {
    const auto& g = report.gaps[i];
    gaps[i].setOrigin(text_of(g.key.origin));
    gaps[i].setDestination(text_of(g.key.destination));
    gaps[i].setStream(g.key.stream);
    auto ranges =
        gaps[i].initRanges(static_cast<unsigned>(std::min<std::size_t>(g.ranges.size(), 65535)));
    for (unsigned j = 0; j < ranges.size(); ++j) {
      ranges[j].setFirst(g.ranges[j].first);
      ranges[j].setLast(g.ranges[j].last);
    }
  }
  if (report.head) {
    auto t = r.initHead();
    t.setRelay(text_of(report.head->relay));
    t.setKeyId(data_of(report.head->key_id));
    t.setSerial(report.head->head.serial);
    t.setTreeSize(report.head->head.tree_size);
    t.setRootHash(data_of(report.head->head.root_hash));
    t.setTime(report.head->head.time_ns);
    t.setSignature(data_of(report.head->head.signature));
  }
  // Placeholder of the signature's size, so validation sees the report as it will be.
  std::vector<std::uint8_t> sig(signer.suite->signature_bytes());
  r.setSignature(data_of(sig));
  try {
    CG_RETURN_IF_ERROR(validate_report(r.asReader()));
  } catch (const kj::Exception& e) {
    return malformed(std::string("receiver report: ") + e.getDescription().cStr());
  }
  CG_RETURN_IF_ERROR(signer.key->sign(report_message(r.asReader()), sig));
  r.setSignature(data_of(sig));
  return wire::canonical_bytes_of(r.asReader(), /*framed=*/true);
}

Result<Report> verify_report(Bytes bytes, const trust::TrustRoot& root,
                             const crypto::Suite& suite) {
  CG_ASSIGN_OR_RETURN(
      auto m, wire::decode_message<schema::ReceiverReport>(bytes, report_limits, validate_report));
  const auto r = m.root();
  if (static_cast<std::uint8_t>(r.getSuite()) != static_cast<std::uint8_t>(suite.id()))
    return unauthenticated("receiver report: suite is not the deployment's");
  Report out;
  out.reporter = std::string(wire::view(r.getReporter()));
  CG_RETURN_IF_ERROR(envelope::verify_node_signature(
      root, out.reporter, schema::Role::RECEIVER, span_of(r.getKeyId()), suite, report_message(r),
      span_of(r.getSignature()), "reporter"));
  out.reporter_party = std::string(wire::view(root.node(out.reporter)->getParty()));
  out.time_ns = r.getTime();
  for (auto g : r.getGaps()) {
    StreamGaps sg;
    sg.key = {std::string(wire::view(g.getOrigin())), std::string(wire::view(g.getDestination())),
              g.getStream()};
    if (sg.key.destination != out.reporter_party) {
      return unauthenticated("receiver report of " + out.reporter + " (party " +
                             out.reporter_party + ") names gaps of a stream to " +
                             sg.key.destination);
    }
    for (auto range : g.getRanges()) sg.ranges.push_back({range.getFirst(), range.getLast()});
    out.gaps.push_back(std::move(sg));
  }
  if (r.hasHead()) {
    const auto t = r.getHead();
    QuotedHead q;
    q.relay = std::string(wire::view(t.getRelay()));
    q.key_id.assign(t.getKeyId().begin(), t.getKeyId().end());
    q.head = {t.getTreeSize(),
              {t.getRootHash().begin(), t.getRootHash().end()},
              t.getTime(),
              {t.getSignature().begin(), t.getSignature().end()},
              t.getSerial()};
    CG_RETURN_IF_ERROR(envelope::verify_tree_head(q.relay, q.key_id, q.head, root, suite));
    out.head = std::move(q);
  }
  return out;
}

Result<std::vector<std::uint8_t>> report_item(Bytes report, const ReportItem& how) {
  if (how.id.size() != limits::item_id_bytes) return malformed("report item: id must be 16 bytes");
  capnp::MallocMessageBuilder mb;
  auto item = mb.initRoot<schema::Item>();
  item.setId(data_of(how.id));
  item.setSource(text_of(how.source));
  item.setKind(schema::Kind::GAP_REPORT);
  item.setPrecedence(schema::Precedence::IMMEDIATE);
  item.setCreated(how.now_ns);
  auto banner = item.initBanner();
  banner.setPolicyId(text_of(how.label_policy));
  banner.setClassification(0);
  banner.setTlp(schema::Tlp::CLEAR);
  auto portion = item.initPortions(1)[0];
  auto label = portion.initLabel();
  label.setPolicyId(text_of(how.label_policy));
  label.setClassification(0);
  label.setTlp(schema::Tlp::CLEAR);
  portion.setContentType(text_of(report_content_type));
  portion.setBody(data_of(report));
  portion.setRequired(true);
  portion.setName("receiver-report");
  CG_RETURN_IF_ERROR(wire::validate_item(item.asReader()));
  return wire::canonical_bytes_of(item.asReader(), /*framed=*/true);
}

Result<Bytes> report_of(schema::Item::Reader item) {
  if (item.getKind() != schema::Kind::GAP_REPORT) return malformed("not a gap report item");
  for (auto p : item.getPortions()) {
    if (wire::view(p.getContentType()) == report_content_type) return span_of(p.getBody());
  }
  return malformed("gap report item without a portion of " + std::string(report_content_type));
}

// --- Heads exchanged out of band --------------------------------------------------------------

namespace {
constexpr std::uint8_t export_magic[4] = {'C', 'G', 'H', 'X'};
}

std::vector<std::uint8_t> export_heads(std::span<const std::vector<std::uint8_t>> records) {
  std::vector<std::uint8_t> out(export_magic, export_magic + 4);
  ByteWriter w(out);
  w.u8(1);
  w.u8(0);
  w.u8(0);
  w.u8(0);
  const std::size_t n = std::min(records.size(), export_heads_max);
  w.u32(static_cast<std::uint32_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    w.u32(static_cast<std::uint32_t>(records[i].size()));
    out.insert(out.end(), records[i].begin(), records[i].end());
  }
  return out;
}

Result<std::vector<Bytes>> parse_heads_export(Bytes file) {
  ByteReader r(file);
  const auto magic = r.bytes(4);
  const auto format = r.u8();
  const auto pad = r.bytes(3);
  const auto count = r.u32();
  if (!r.ok() || !std::equal(magic->begin(), magic->end(), export_magic))
    return malformed("heads file: not a cellgate heads export");
  if (*format != 1 || (*pad)[0] != 0 || (*pad)[1] != 0 || (*pad)[2] != 0)
    return malformed("heads file: unknown format");
  if (*count > export_heads_max)
    return malformed("heads file: more than " + std::to_string(export_heads_max) + " heads");
  std::vector<Bytes> out;
  out.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    const auto len = r.u32();
    if (!len) return malformed("heads file: cut short in head " + std::to_string(i));
    if (*len > export_record_bytes_max)
      return malformed("heads file: head " + std::to_string(i) + " is too large");
    const auto bytes = r.bytes(*len);
    if (!bytes) return malformed("heads file: cut short in head " + std::to_string(i));
    out.push_back(*bytes);
  }
  if (!r.at_end()) return malformed("heads file: bytes after the last head");
  return out;
}

// --- GapTracker ------------------------------------------------------------------------------

void GapTracker::update(const StreamKey& key, std::span<const SeqRange> missing,
                        std::int64_t now_ns) {
  auto it = streams_.find(key);
  if (it == streams_.end()) {
    if (missing.empty()) return;
    it = streams_.emplace(key, Stream{}).first;
  }
  Stream& s = it->second;
  const auto wanted = subtract(missing, s.given_up);
  Ranges next;
  auto old = s.open.begin();
  for (const SeqRange& r : wanted) {
    if (next.size() >= options_.ranges_per_stream_max) break;
    std::uint64_t at = r.first;
    // Skip old ranges wholly below this one.
    while (old != s.open.end() && old->second.last < r.first) ++old;
    for (auto o = old; o != s.open.end() && o->first <= r.last && at <= r.last; ++o) {
      if (o->first > at) {  // a piece no old range covers: new
        next[at] = {o->first - 1, now_ns, false, 0};
        at = o->first;
      }
      const std::uint64_t end = std::min(o->second.last, r.last);
      if (end >= at) {
        next[at] = {end, o->second.since_ns, o->second.reported, o->second.reported_ns};
        at = end + 1;
      }
    }
    if (at <= r.last && at >= r.first) next[at] = {r.last, now_ns, false, 0};
  }
  s.open = std::move(next);
  if (s.open.empty() && s.given_up.empty()) streams_.erase(it);
}

std::vector<StreamGaps> GapTracker::due(std::int64_t now_ns) {
  // Give up what has been open too long.
  for (auto& [key, s] : streams_) {
    for (auto o = s.open.begin(); o != s.open.end();) {
      if (now_ns - o->second.since_ns < options_.give_up_after_ns) {
        ++o;
        continue;
      }
      const SeqRange r{o->first, o->second.last};
      abandoned_.push_back({key, r, o->second.since_ns});
      abandoned_seqs_ += count(r);
      add_range(s.given_up, r, 1024);
      o = s.open.erase(o);
    }
  }
  std::vector<StreamGaps> out;
  std::uint64_t seqs = 0;
  for (auto& [key, s] : streams_) {
    if (out.size() >= limits::gap_streams_max || seqs >= limits::gap_report_seqs_max) break;
    StreamGaps g{key, {}};
    for (auto o = s.open.begin(); o != s.open.end(); ++o) {
      if (g.ranges.size() >= limits::gap_ranges_max || seqs >= limits::gap_report_seqs_max) break;
      Open& open = o->second;
      if (now_ns - open.since_ns < options_.report_after_ns) continue;
      if (open.reported && now_ns - open.reported_ns < options_.rereport_after_ns) continue;
      const std::uint64_t room = limits::gap_report_seqs_max - seqs;
      SeqRange r{o->first, open.last};
      if (count(r) > room) {  // split: the rest stays due
        r.last = r.first + room - 1;
        s.open[r.last + 1] = {open.last, open.since_ns, open.reported, open.reported_ns};
        open.last = r.last;
      }
      open.reported = true;
      open.reported_ns = now_ns;
      seqs += count(r);
      seqs_requested_ += count(r);
      g.ranges.push_back(r);
    }
    if (!g.ranges.empty()) out.push_back(std::move(g));
  }
  return out;
}

std::vector<Abandoned> GapTracker::take_abandoned() { return std::exchange(abandoned_, {}); }

bool GapTracker::arrived(const StreamKey& key, std::uint64_t seq) {
  auto s = streams_.find(key);
  if (s == streams_.end()) return false;
  auto o = s->second.open.upper_bound(seq);
  if (o == s->second.open.begin()) return false;
  --o;
  if (seq > o->second.last || !o->second.reported) return false;
  ++recovered_;
  return true;
}

std::uint64_t GapTracker::open_seqs() const {
  std::uint64_t n = 0;
  for (const auto& [key, s] : streams_)
    for (const auto& [first, o] : s.open) n += o.last - first + 1;
  return n;
}

// --- ResendQueue -----------------------------------------------------------------------------

std::uint64_t ResendQueue::request(const std::string& destination, std::span<const SeqRange> ranges,
                                   std::int64_t now_ns, std::int64_t extra_holdoff_ns) {
  const std::int64_t holdoff = options_.holdoff_ns + std::max<std::int64_t>(0, extra_holdoff_ns);
  if (recent_.size() > options_.holdoff_tracked_max) {  // forget what is past its holdoff
    for (auto it = recent_.begin(); it != recent_.end();)
      it = now_ns - it->second >= options_.holdoff_ns ? recent_.erase(it) : std::next(it);
  }
  std::uint64_t queued = 0;
  for (const SeqRange& r : ranges) {
    for (std::uint64_t seq = r.first; seq <= r.last && seq != 0; ++seq) {
      auto [it, fresh] = recent_.try_emplace({destination, seq}, now_ns);
      if (!fresh) {
        if (now_ns - it->second < holdoff) continue;
        it->second = now_ns;
      }
      if (queue_.size() >= options_.queued_max) {
        ++refused_;
        recent_.erase(it);
        continue;
      }
      queue_.emplace_back(destination, seq);
      ++queued;
      if (seq == r.last) break;  // r.last may be UINT64_MAX
    }
  }
  return queued;
}

std::vector<std::pair<std::string, std::uint64_t>> ResendQueue::take(std::size_t max,
                                                                     std::int64_t now_ns) {
  if (tokens_ < 0) {
    tokens_ = static_cast<double>(options_.burst);
    tokens_ns_ = now_ns;
  }
  tokens_ = std::min(static_cast<double>(options_.burst),
                     tokens_ + static_cast<double>(now_ns - tokens_ns_) *
                                   static_cast<double>(options_.seqs_per_s) / 1e9);
  tokens_ns_ = now_ns;
  std::vector<std::pair<std::string, std::uint64_t>> out;
  while (!queue_.empty() && out.size() < max && tokens_ >= 1) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
    recent_[out.back()] = now_ns;  // the holdoff runs from the re-send
    tokens_ -= 1;
  }
  return out;
}

// --- HeadChain -------------------------------------------------------------------------------

std::string_view evidence_name(EvidenceKind kind) {
  switch (kind) {
    case EvidenceKind::fork:
      return "fork";
    case EvidenceKind::inconsistent:
      return "inconsistent";
    case EvidenceKind::withheld:
      return "withheld";
  }
  return "?";
}

std::vector<Evidence> HeadChain::hold(const std::string& relay, const envelope::TreeHead& head,
                                      const std::string& source, Held** kept) {
  *kept = nullptr;
  std::vector<Evidence> out;
  auto [it, fresh] = heads_.try_emplace({relay, head.serial}, Held{head, false});
  if (!fresh) {
    if (same_head(it->second.head, head)) {
      *kept = &it->second;
      return out;
    }
    ++counters_.evidence;
    out.push_back({EvidenceKind::fork, relay, it->second.head, head, source,
                   "relay " + relay + " signed two different tree heads under serial " +
                       std::to_string(head.serial) + ": size " +
                       std::to_string(it->second.head.tree_size) + " and size " +
                       std::to_string(head.tree_size) + " (" + source + ")"});
    return out;
  }
  ++counters_.heads;
  auto& max = max_serial_[relay];
  max = std::max(max, head.serial);
  // Append-only: a later serial never has a smaller tree, an earlier one never a larger.
  if (it != heads_.begin()) {
    const auto before = std::prev(it);
    if (before->first.first == relay && before->second.head.tree_size > head.tree_size) {
      ++counters_.evidence;
      out.push_back({EvidenceKind::inconsistent, relay, before->second.head, head, source,
                     "relay " + relay + " tree head " + describe(head) + " is smaller than " +
                         describe(before->second.head)});
    }
  }
  if (const auto after = std::next(it); after != heads_.end() && after->first.first == relay &&
                                        after->second.head.tree_size < head.tree_size) {
    ++counters_.evidence;
    out.push_back({EvidenceKind::inconsistent, relay, after->second.head, head, source,
                   "relay " + relay + " tree head " + describe(head) +
                       " is larger than the later " + describe(after->second.head)});
  }
  *kept = &it->second;
  trim();
  return out;
}

void HeadChain::trim() {
  while (heads_.size() > options_.window) heads_.erase(heads_.begin());
}

std::vector<Evidence> HeadChain::add_published(const envelope::VerifiedHead& v,
                                               std::int64_t now_ns) {
  Held* kept = nullptr;
  auto out = hold(v.relay, v.head, "published head", &kept);
  if (!kept) return out;
  bool checked_any = false;
  for (const auto& link : v.links) {
    auto from = heads_.find({v.relay, link.serial});
    if (from == heads_.end()) continue;
    checked_any = true;
    const auto& earlier = from->second.head;
    if (earlier.tree_size != link.tree_size) {
      ++counters_.evidence;
      out.push_back({EvidenceKind::fork, v.relay, earlier, v.head, "published head link",
                     "relay " + v.relay + " says serial " + std::to_string(link.serial) +
                         " had size " + std::to_string(link.tree_size) + ", but it signed size " +
                         std::to_string(earlier.tree_size)});
      continue;
    }
    if (!crypto::verify_consistency(hasher_, earlier.tree_size, v.head.tree_size, earlier.root_hash,
                                    v.head.root_hash, link.proof)) {
      ++counters_.evidence;
      out.push_back({EvidenceKind::inconsistent, v.relay, earlier, v.head, "published head link",
                     "relay " + v.relay + ": consistency proof from " + describe(earlier) + " to " +
                         describe(v.head) + " does not verify"});
      continue;
    }
    if (!kept->linked) {
      kept->linked = true;
      ++counters_.linked;
    }
  }
  if (!checked_any && heads_.size() > 1) ++counters_.unlinked;
  auto more = tick(now_ns);
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

std::vector<Evidence> HeadChain::add_countersigned(const std::string& relay,
                                                   const envelope::TreeHead& head,
                                                   std::int64_t now_ns) {
  Held* kept = nullptr;
  auto out = hold(relay, head, "countersignature", &kept);
  auto more = tick(now_ns);
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

std::optional<std::vector<Evidence>> HeadChain::judge(const Pending& p) {
  auto it = heads_.find({p.theirs.relay, p.theirs.head.serial});
  if (it == heads_.end()) return std::nullopt;
  std::vector<Evidence> out;
  if (same_head(it->second.head, p.theirs.head)) {
    ++counters_.matched;
    return out;
  }
  ++counters_.evidence;
  out.push_back({EvidenceKind::fork, p.theirs.relay, it->second.head, p.theirs.head, p.source,
                 "relay " + p.theirs.relay + " showed " + p.source + " tree head " +
                     describe(p.theirs.head) + " but this party " + describe(it->second.head) +
                     " under the same serial: the parties were shown different histories"});
  return out;
}

std::vector<Evidence> HeadChain::compare_quoted(const QuotedHead& theirs, const std::string& source,
                                                std::int64_t now_ns) {
  Pending p{theirs, source, now_ns};
  if (auto judged = judge(p)) return *judged;
  const auto max = max_serial_.find(theirs.relay);
  if (max != max_serial_.end() && theirs.head.serial <= max->second) {
    ++counters_.unverifiable;  // passed, but not held: lost on our link or out of the window
    return {};
  }
  if (pending_.size() >= options_.pending_max) {
    pending_.pop_front();
    ++counters_.unverifiable;
  }
  pending_.push_back(std::move(p));
  return {};
}

std::vector<Evidence> HeadChain::tick(std::int64_t now_ns) {
  std::vector<Evidence> out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (auto judged = judge(*it)) {
      out.insert(out.end(), judged->begin(), judged->end());
      it = pending_.erase(it);
      continue;
    }
    const auto max = max_serial_.find(it->theirs.relay);
    if (max != max_serial_.end() && it->theirs.head.serial <= max->second) {
      ++counters_.unverifiable;
      it = pending_.erase(it);
      continue;
    }
    if (now_ns - it->since_ns >= options_.withheld_after_ns) {
      ++counters_.evidence;
      const std::uint64_t seen = max == max_serial_.end() ? 0 : max->second;
      out.push_back({EvidenceKind::withheld,
                     it->theirs.relay,
                     {},
                     it->theirs.head,
                     it->source,
                     "relay " + it->theirs.relay + " showed " + it->source + " tree head " +
                         describe(it->theirs.head) + ", but this party has seen no serial above " +
                         std::to_string(seen) + " for " +
                         std::to_string((now_ns - it->since_ns) / ns_per_s) +
                         " s: heads withheld from one party"});
      it = pending_.erase(it);
      continue;
    }
    ++it;
  }
  return out;
}

std::optional<QuotedHead> HeadChain::latest() const {
  if (heads_.empty()) return std::nullopt;
  const auto& [key, held] = *heads_.rbegin();
  return QuotedHead{key.first, {}, held.head};
}

}  // namespace cg::recovery
