#include "gateway/wire/wire.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

namespace cg::wire {
namespace detail {

Result<kj::Array<capnp::word>> aligned_copy(std::span<const std::uint8_t> bytes,
                                            const DecodeLimits& limits) {
  if (bytes.empty()) return malformed("message: empty");
  if (bytes.size() > limits.bytes_max) {
    return malformed("message: " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                     std::to_string(limits.bytes_max));
  }
  if (bytes.size() % sizeof(capnp::word) != 0) {
    return malformed("message: size " + std::to_string(bytes.size()) +
                     " is not a multiple of 8 bytes");
  }
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return words;
}

std::string exception_reason(const kj::Exception& e) {
  // The description names the violated check ("message ends prematurely", "nesting limit
  // exceeded", ...). File and line of the check are not useful to an operator.
  std::string_view d(e.getDescription().cStr());
  constexpr std::size_t reason_bytes_max = 200;
  return std::string(d.substr(0, reason_bytes_max));
}

}  // namespace detail

namespace {

using std::string_view;

// A field path such as item.portions[2].label.restrictive[0], rendered only on error so the
// success path does no string work.
class Path final {
 public:
  explicit Path(const char* root) { push(root, -1); }
  Path field(const char* name) const {
    Path p = *this;
    p.push(name, -1);
    return p;
  }
  Path index(int i) const {
    Path p = *this;
    p.segments_[p.count_ - 1].index = i;
    return p;
  }
  std::string str() const {
    std::string out;
    for (int k = 0; k < count_; ++k) {
      if (k) out += '.';
      out += segments_[k].name;
      if (segments_[k].index >= 0) out += "[" + std::to_string(segments_[k].index) + "]";
    }
    return out;
  }
  Status error(string_view what) const { return malformed(str() + ": " + std::string(what)); }

 private:
  struct Segment {
    const char* name;
    int index;
  };
  void push(const char* name, int i) {
    CG_ASSERT(count_ < kDepth);
    segments_[count_++] = {name, i};
  }
  static constexpr int kDepth = 6;
  Segment segments_[kDepth] = {};
  int count_ = 0;
};

string_view text(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

enum class Controls { none, whitespace, all };

// Valid UTF-8 (no overlongs, no surrogates). Control characters: none allowed (names), only
// tab/CR/LF (values), or all (bodies). Keeps names printable in logs and explanations.
bool utf8_ok(string_view s, Controls controls) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned c = *p;
    if (c < 0x80) {
      const bool control = c < 0x20 || c == 0x7f;
      const bool space = c == '\t' || c == '\n' || c == '\r';
      if (control && controls == Controls::none) return false;
      if (control && controls == Controls::whitespace && !space) return false;
      ++p;
      continue;
    }
    int extra;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      cp = c & 0x07;
    } else
      return false;
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    if (cp >= 0x80 && cp <= 0x9f && controls != Controls::all) return false;  // C1 controls
    p += extra + 1;
  }
  return true;
}

Status check_name(capnp::Text::Reader t, const Path& path, bool required) {
  if (required && t.size() == 0) return path.error("empty");
  if (t.size() > limits::name_bytes_max) {
    return path.error("longer than " + std::to_string(limits::name_bytes_max) + " bytes");
  }
  if (!utf8_ok(text(t), Controls::none))
    return path.error("not UTF-8 or contains control characters");
  return {};
}

Status check_name_set(capnp::List<capnp::Text>::Reader list, const Path& path) {
  if (list.size() > limits::categories_per_label_max) {
    return path.error("more than " + std::to_string(limits::categories_per_label_max) + " entries");
  }
  for (unsigned i = 0; i < list.size(); ++i) {
    CG_RETURN_IF_ERROR(check_name(list[i], path.index(static_cast<int>(i)), true));
    if (i > 0 && !(text(list[i - 1]) < text(list[i]))) {
      return path.error("not sorted and unique at entry " + std::to_string(i));
    }
  }
  return {};
}

// Both lists sorted and unique (validated). True when every entry of `sub` is in `super`.
bool is_subset(capnp::List<capnp::Text>::Reader sub, capnp::List<capnp::Text>::Reader super) {
  unsigned j = 0;
  for (unsigned i = 0; i < sub.size(); ++i) {
    while (j < super.size() && text(super[j]) < text(sub[i])) ++j;
    if (j == super.size() || text(super[j]) != text(sub[i])) return false;
    ++j;
  }
  return true;
}

bool known_tlp(schema::Tlp t) {
  return static_cast<unsigned>(t) <= static_cast<unsigned>(schema::Tlp::RED);
}

Status check_point(schema::GeoPoint::Reader p, const char* path) {
  constexpr std::int64_t lat_max = 900'000'000, lon_max = 1'800'000'000;
  if (std::abs(static_cast<std::int64_t>(p.getLatE7())) > lat_max ||
      std::abs(static_cast<std::int64_t>(p.getLonE7())) > lon_max) {
    return malformed(std::string(path) + ": coordinates out of range");
  }
  return {};
}

Status check_label(schema::Label::Reader label, const Path& p) {
  CG_RETURN_IF_ERROR(check_name(label.getPolicyId(), p.field("policyId"), true));
  if (label.getClassification() >= limits::classification_levels_max) {
    return p.field("classification")
        .error("level " + std::to_string(label.getClassification()) + " out of range");
  }
  CG_RETURN_IF_ERROR(check_name_set(label.getRestrictive(), p.field("restrictive")));
  CG_RETURN_IF_ERROR(check_name_set(label.getPermissive(), p.field("permissive")));
  CG_RETURN_IF_ERROR(check_name_set(label.getCaveats(), p.field("caveats")));
  if (!known_tlp(label.getTlp())) return p.field("tlp").error("unknown value");
  return {};
}

Status check_area(schema::Area::Reader area) {
  switch (area.which()) {
    case schema::Area::NONE:
      return {};
    case schema::Area::POINT:
      return check_point(area.getPoint(), "item.area.point");
    case schema::Area::BOX: {
      auto box = area.getBox();
      CG_RETURN_IF_ERROR(check_point(box.getSouthWest(), "item.area.box.southWest"));
      CG_RETURN_IF_ERROR(check_point(box.getNorthEast(), "item.area.box.northEast"));
      if (box.getSouthWest().getLatE7() > box.getNorthEast().getLatE7() ||
          box.getSouthWest().getLonE7() > box.getNorthEast().getLonE7()) {
        return malformed("item.area.box: south-west corner is not below and left of north-east");
      }
      return {};
    }
  }
  return malformed("item.area: unknown union member");
}

}  // namespace

bool is_clean_name(std::string_view name) {
  return !name.empty() && name.size() <= limits::name_bytes_max && utf8_ok(name, Controls::none);
}

bool validate_text_body(std::string_view text) { return utf8_ok(text, Controls::all); }

Status validate_label(schema::Label::Reader label) {
  try {
    return check_label(label, Path("label"));
  } catch (const kj::Exception& e) {
    return malformed("label: " + detail::exception_reason(e));
  }
}

bool dominates(schema::Label::Reader a, schema::Label::Reader b) {
  if (text(a.getPolicyId()) != text(b.getPolicyId())) return false;
  if (a.getClassification() < b.getClassification()) return false;
  if (static_cast<unsigned>(a.getTlp()) < static_cast<unsigned>(b.getTlp())) return false;
  if (!is_subset(b.getRestrictive(), a.getRestrictive())) return false;
  if (!is_subset(b.getCaveats(), a.getCaveats())) return false;
  if (b.getPermissive().size() == 0) return true;
  return a.getPermissive().size() > 0 && is_subset(a.getPermissive(), b.getPermissive());
}

Status validate_item(schema::Item::Reader item) {
  try {
    if (item.getId().size() != limits::item_id_bytes) {
      return malformed("item.id: must be " + std::to_string(limits::item_id_bytes) +
                       " bytes, got " + std::to_string(item.getId().size()));
    }
    const Path root("item");
    CG_RETURN_IF_ERROR(check_name(item.getSource(), root.field("source"), true));
    auto kind = static_cast<unsigned>(item.getKind());
    if (kind == 0) return malformed("item.kind: unspecified");
    if (kind > static_cast<unsigned>(schema::Kind::GAP_REPORT))
      return malformed("item.kind: unknown value");
    auto prec = static_cast<unsigned>(item.getPrecedence());
    if (prec == 0) return malformed("item.precedence: unspecified");
    if (prec > static_cast<unsigned>(schema::Precedence::FLASH)) {
      return malformed("item.precedence: unknown value");
    }
    if (item.getCreated() <= 0) return malformed("item.created: must be positive");
    if (item.getExpires() != 0 && item.getExpires() <= item.getCreated()) {
      return malformed("item.expires: not after item.created");
    }
    if (!item.hasBanner()) return malformed("item.banner: missing");
    auto banner = item.getBanner();
    CG_RETURN_IF_ERROR(check_label(banner, root.field("banner")));

    auto topics = item.getTopics();
    if (topics.size() > limits::topics_per_item_max) return malformed("item.topics: too many");
    for (unsigned i = 0; i < topics.size(); ++i) {
      CG_RETURN_IF_ERROR(
          check_name(topics[i], root.field("topics").index(static_cast<int>(i)), true));
    }
    CG_RETURN_IF_ERROR(check_area(item.getArea()));

    auto portions = item.getPortions();
    if (portions.size() == 0) return malformed("item.portions: none");
    if (portions.size() > limits::portions_per_item_max) {
      return malformed("item.portions: more than " + std::to_string(limits::portions_per_item_max));
    }
    for (unsigned i = 0; i < portions.size(); ++i) {
      auto portion = portions[i];
      const Path path = root.field("portions").index(static_cast<int>(i));
      if (!portion.hasLabel()) return path.field("label").error("missing");
      CG_RETURN_IF_ERROR(check_label(portion.getLabel(), path.field("label")));
      if (!dominates(banner, portion.getLabel())) {
        return path.field("label").error("not dominated by the banner");
      }
      CG_RETURN_IF_ERROR(check_name(portion.getContentType(), path.field("contentType"), true));
      CG_RETURN_IF_ERROR(check_name(portion.getName(), path.field("name"), false));
      if (portion.getBody().size() > limits::portion_body_bytes_max) {
        return path.field("body").error("too large");
      }
    }

    auto attributes = item.getAttributes();
    if (attributes.size() > limits::attributes_per_item_max) {
      return malformed("item.attributes: more than " +
                       std::to_string(limits::attributes_per_item_max));
    }
    for (unsigned i = 0; i < attributes.size(); ++i) {
      const Path path = root.field("attributes").index(static_cast<int>(i));
      CG_RETURN_IF_ERROR(check_name(attributes[i].getName(), path.field("name"), true));
      auto value = attributes[i].getValue();
      if (value.size() > limits::attribute_value_bytes_max) {
        return path.field("value").error("too long");
      }
      if (!utf8_ok(text(value), Controls::whitespace)) {
        return path.field("value").error("not UTF-8 or contains control characters");
      }
    }
    return {};
  } catch (const kj::Exception& e) {
    return malformed("item: " + detail::exception_reason(e));
  }
}

Result<Message<schema::Item>> decode_item(std::span<const std::uint8_t> bytes) {
  CG_ASSIGN_OR_RETURN(auto message, decode_message<schema::Item>(bytes, item_limits));
  CG_RETURN_IF_ERROR(validate_item(message.root()));
  return message;
}

Result<Message<schema::Item>> decode_canonical_item(std::span<const std::uint8_t> bytes) {
  return decode_canonical<schema::Item>(
      bytes, item_limits, [](schema::Item::Reader item) { return validate_item(item); });
}

std::vector<std::uint8_t> to_flat_bytes(capnp::MessageBuilder& builder) {
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return {bytes.begin(), bytes.end()};
}

}  // namespace cg::wire
