// JSON ⇄ Item: the human-writable form of an item, for `cellgate send`, `cellgate item` and
// `cellgate tail`. Parsed with simdjson's DOM (bounded size and depth), mapped field by field
// with unknown fields rejected, then validated exactly like a Cap'n Proto item.
#include <capnp/message.h>
#include <simdjson.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "gateway/common/hex.h"
#include "gateway/common/limits.h"
#include "gateway/common/text.h"
#include "gateway/wire/wire.h"

namespace cg::wire {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

struct Fail {
  Status status;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Fail{malformed("json: " + path + ": " + what)};
}

std::string_view get_string(element e, const std::string& path) {
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) fail(path, "expected a string");
  return v;
}

std::int64_t get_int(element e, const std::string& path) {
  std::int64_t v;
  if (e.get_int64().get(v) != simdjson::SUCCESS) fail(path, "expected an integer");
  return v;
}

double get_double(element e, const std::string& path) {
  double v;
  if (e.get_double().get(v) != simdjson::SUCCESS) fail(path, "expected a number");
  return v;
}

bool get_bool(element e, const std::string& path) {
  bool v;
  if (e.get_bool().get(v) != simdjson::SUCCESS) fail(path, "expected true or false");
  return v;
}

array get_array(element e, const std::string& path) {
  array v;
  if (e.get_array().get(v) != simdjson::SUCCESS) fail(path, "expected an array");
  return v;
}

object get_object(element e, const std::string& path) {
  object v;
  if (e.get_object().get(v) != simdjson::SUCCESS) fail(path, "expected an object");
  return v;
}

template <std::size_t N>
int pick(std::string_view value, const std::array<const char*, N>& names, const std::string& path) {
  for (std::size_t i = 0; i < N; ++i) {
    if (value == names[i]) return static_cast<int>(i);
  }
  fail(path, "unknown value '" + json_escape(value.substr(0, 64)) + "'");
}

// Index 0 of each table is the schema's `unspecified` (or `unmarked`), which JSON cannot name.
constexpr std::array<const char*, 7> kKinds = {
    "", "intelligence", "deconfliction", "incident", "diplomatic", "economic", "gapReport"};
constexpr std::array<const char*, 5> kPrecedences = {"", "routine", "priority", "immediate",
                                                     "flash"};
constexpr std::array<const char*, 6> kTlps = {"unmarked", "clear",        "green",
                                              "amber",    "amber+strict", "red"};

std::int64_t parse_time(std::string_view s, const std::string& path, bool stix);
std::string format_time(std::int64_t ns);
Status check_tree(const element& e, const std::string& path, bool nul_in_values);

}  // namespace

Result<std::int64_t> parse_rfc3339(std::string_view text) {
  try {
    return parse_time(text, "time", false);
  } catch (const Fail& f) {
    return f.status;
  }
}

Result<std::int64_t> parse_stix_timestamp(std::string_view text) {
  try {
    return parse_time(text, "time", true);
  } catch (const Fail& f) {
    return f.status;
  }
}

Status check_json_tree(const simdjson::dom::element& root, const std::string& path,
                       bool nul_in_values) {
  return check_tree(root, path, nul_in_values);
}

std::string format_rfc3339(std::int64_t ns) { return format_time(ns); }

namespace {

// RFC 3339 in UTC ("2026-11-24T12:00:00Z", optional fraction up to 9 digits) → ns since epoch.
// `stix` asks for STIX 2.1's form: upper-case T and Z only.
std::int64_t parse_time(std::string_view s, const std::string& path, bool stix) {
  auto digits = [&](std::size_t at, std::size_t n) {
    std::int64_t v = 0;
    if (at + n > s.size()) fail(path, "not an RFC 3339 UTC time");
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') fail(path, "not an RFC 3339 UTC time");
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && (stix || s[10] != 't')) ||
      s[13] != ':' || s[16] != ':') {
    fail(path, "not an RFC 3339 UTC time");
  }
  const std::int64_t y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2);
  const std::int64_t h = digits(11, 2), mi = digits(14, 2), sec = digits(17, 2);
  std::size_t at = 19;
  std::int64_t frac_ns = 0;
  if (at < s.size() && s[at] == '.') {
    std::size_t start = ++at;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') ++at;
    std::size_t n = at - start;
    if (n == 0 || n > 9) fail(path, "fraction of a second must have 1 to 9 digits");
    frac_ns = digits(start, n);
    for (std::size_t i = n; i < 9; ++i) frac_ns *= 10;
  }
  if (at + 1 != s.size() || (s[at] != 'Z' && (stix || s[at] != 'z'))) {
    fail(path, "time must end in Z (UTC)");
  }
  if (y < 1970 || y > 2261) fail(path, "year out of range (1970-2261)");
  using namespace std::chrono;
  const year_month_day date{year{static_cast<int>(y)}, month{static_cast<unsigned>(mo)},
                            day{static_cast<unsigned>(d)}};
  if (!date.ok()) fail(path, "no such date");
  if (h > 23 || mi > 59 || sec > 59) fail(path, "no such time of day");
  const auto t = sys_days{date} + hours{h} + minutes{mi} + seconds{sec} + nanoseconds{frac_ns};
  return duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

std::string format_time(std::int64_t ns) {
  using namespace std::chrono;
  const sys_time<nanoseconds> t{nanoseconds{ns}};
  const auto day_start = floor<days>(t);
  const year_month_day date{day_start};
  const hh_mm_ss<nanoseconds> tod{t - day_start};
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02lld:%02lld:%02lld.%09lldZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<long long>(tod.hours().count()),
                static_cast<long long>(tod.minutes().count()),
                static_cast<long long>(tod.seconds().count()),
                static_cast<long long>(tod.subseconds().count()));
  return buf;
}

// Depth-first over the DOM; depth is bounded by the parser's (limits::item_json_depth_max).
Status check_tree(const element& e, const std::string& path, bool nul_in_values) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      object o;
      if (e.get_object().get(o) != simdjson::SUCCESS)
        return malformed(path + ": unreadable object");
      std::vector<std::string_view> keys;
      for (auto [key, value] : o) {
        if (key.find('\0') != std::string_view::npos) {
          return malformed(path + ": a key contains NUL (\\u0000)");
        }
        keys.push_back(key);
        CG_RETURN_IF_ERROR(check_tree(value, path + "." + std::string(key), nul_in_values));
      }
      std::sort(keys.begin(), keys.end());
      auto dup = std::adjacent_find(keys.begin(), keys.end());
      if (dup != keys.end()) {
        return malformed(path + ": duplicate key '" + json_escape(dup->substr(0, 64)) + "'");
      }
      return {};
    }
    case simdjson::dom::element_type::ARRAY: {
      std::size_t i = 0;
      array a;
      if (e.get_array().get(a) != simdjson::SUCCESS) return malformed(path + ": unreadable array");
      for (element v : a) {
        CG_RETURN_IF_ERROR(check_tree(v, path + "[" + std::to_string(i++) + "]", nul_in_values));
      }
      return {};
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view text;
      if (e.get_string().get(text) != simdjson::SUCCESS)
        return malformed(path + ": unreadable string");
      if (!nul_in_values && text.find('\0') != std::string_view::npos) {
        return malformed(path + ": contains NUL (\\u0000)");
      }
      return {};
    }
    default:
      return {};
  }
}

void set_names(capnp::List<capnp::Text>::Builder list, array values, const std::string& path) {
  unsigned i = 0;
  for (element v : values) {
    list.set(i, std::string(get_string(v, path + "[" + std::to_string(i) + "]")));
    ++i;
  }
}

std::size_t count(array a) {
  std::size_t n = 0;
  for (auto it = a.begin(); it != a.end(); ++it) ++n;
  return n;
}

array bounded_array(element e, const std::string& path, std::size_t max) {
  array a = get_array(e, path);
  if (count(a) > max) fail(path, "more than " + std::to_string(max) + " entries");
  return a;
}

void fill_label(schema::Label::Builder label, element e, const std::string& path) {
  bool have_policy = false;
  for (auto [key, value] : get_object(e, path)) {
    const std::string p = path + "." + std::string(key);
    if (key == "policy") {
      label.setPolicyId(std::string(get_string(value, p)));
      have_policy = true;
    } else if (key == "classification") {
      std::int64_t level = get_int(value, p);
      if (level < 0 || level >= static_cast<std::int64_t>(limits::classification_levels_max)) {
        fail(p, "level out of range");
      }
      label.setClassification(static_cast<std::uint8_t>(level));
    } else if (key == "restrictive" || key == "rel_to" || key == "caveats") {
      array a = bounded_array(value, p, limits::categories_per_label_max);
      auto n = static_cast<unsigned>(count(a));
      if (n == 0) continue;  // an empty list is left null, as item_to_json omits it
      auto list = key == "restrictive" ? label.initRestrictive(n)
                  : key == "rel_to"    ? label.initPermissive(n)
                                       : label.initCaveats(n);
      set_names(list, a, p);
    } else if (key == "tlp") {
      label.setTlp(static_cast<schema::Tlp>(pick(get_string(value, p), kTlps, p)));
    } else {
      fail(p, "unknown field");
    }
  }
  if (!have_policy) fail(path + ".policy", "missing");
}

std::int32_t e7(double degrees, double max, const std::string& path) {
  if (!std::isfinite(degrees) || std::fabs(degrees) > max) fail(path, "coordinate out of range");
  return static_cast<std::int32_t>(std::lround(degrees * 1e7));
}

void fill_point(schema::GeoPoint::Builder point, element e, const std::string& path) {
  array a = get_array(e, path);
  if (count(a) != 2) fail(path, "expected [latitude, longitude]");
  auto it = a.begin();
  point.setLatE7(e7(get_double(*it, path + "[0]"), 90, path + "[0]"));
  ++it;
  point.setLonE7(e7(get_double(*it, path + "[1]"), 180, path + "[1]"));
}

void fill_area(schema::Area::Builder area, element e, const std::string& path) {
  object o = get_object(e, path);
  std::size_t fields = 0;
  for (auto [key, value] : o) {
    ++fields;
    const std::string p = path + "." + std::string(key);
    if (key == "point") {
      fill_point(area.initPoint(), value, p);
    } else if (key == "box") {
      array a = get_array(value, p);
      if (count(a) != 2) fail(p, "expected [[south, west], [north, east]]");
      auto box = area.initBox();
      auto it = a.begin();
      fill_point(box.initSouthWest(), *it, p + "[0]");
      ++it;
      fill_point(box.initNorthEast(), *it, p + "[1]");
    } else {
      fail(p, "unknown field");
    }
  }
  if (fields != 1) fail(path, "expected exactly one of point, box");
}

std::vector<std::uint8_t> from_base64(std::string_view b64, const std::string& path) {
  std::vector<std::uint8_t> out(b64.size() / 4 * 3 + 3);
  std::size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    fail(path, "not base64");
  }
  out.resize(len);
  return out;
}

void fill_portion(schema::Portion::Builder portion, element e, const std::string& path) {
  bool have_label = false, have_type = false, have_body = false;
  for (auto [key, value] : get_object(e, path)) {
    const std::string p = path + "." + std::string(key);
    if (key == "label") {
      fill_label(portion.initLabel(), value, p);
      have_label = true;
    } else if (key == "content_type") {
      portion.setContentType(std::string(get_string(value, p)));
      have_type = true;
    } else if (key == "name") {
      // Empty text is left null, so that JSON → item → JSON → item is byte-stable.
      if (auto n = get_string(value, p); !n.empty()) portion.setName(std::string(n));
    } else if (key == "required") {
      portion.setRequired(get_bool(value, p));
    } else if (key == "body" || key == "body_base64") {
      if (have_body) fail(p, "give one of body, body_base64");
      have_body = true;
      std::string_view s = get_string(value, p);
      if (key == "body") {
        if (!s.empty()) {
          portion.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size()));
        }
      } else {
        auto bytes = from_base64(s, p);
        if (!bytes.empty()) portion.setBody(kj::arrayPtr(bytes.data(), bytes.size()));
      }
    } else {
      fail(p, "unknown field");
    }
  }
  if (!have_label) fail(path + ".label", "missing");
  if (!have_type) fail(path + ".content_type", "missing");
  if (!have_body) fail(path + ".body", "missing");
}

void fill_item(schema::Item::Builder item, element root) {
  const std::string path = "$";
  for (auto [key, value] : get_object(root, path)) {
    const std::string p = path + "." + std::string(key);
    if (key == "id") {
      auto id = from_hex(get_string(value, p));
      if (!id || id->size() != limits::item_id_bytes) fail(p, "expected 32 hex digits");
      item.setId(kj::arrayPtr(id->data(), id->size()));
    } else if (key == "source") {
      item.setSource(std::string(get_string(value, p)));
    } else if (key == "kind") {
      item.setKind(static_cast<schema::Kind>(pick(get_string(value, p), kKinds, p)));
    } else if (key == "precedence") {
      item.setPrecedence(
          static_cast<schema::Precedence>(pick(get_string(value, p), kPrecedences, p)));
    } else if (key == "created") {
      item.setCreated(parse_time(get_string(value, p), p, false));
    } else if (key == "expires") {
      item.setExpires(parse_time(get_string(value, p), p, false));
    } else if (key == "banner") {
      fill_label(item.initBanner(), value, p);
    } else if (key == "topics") {
      array a = bounded_array(value, p, limits::topics_per_item_max);
      if (count(a) > 0) set_names(item.initTopics(static_cast<unsigned>(count(a))), a, p);
    } else if (key == "area") {
      fill_area(item.initArea(), value, p);
    } else if (key == "portions") {
      array a = bounded_array(value, p, limits::portions_per_item_max);
      auto portions = item.initPortions(static_cast<unsigned>(count(a)));
      unsigned i = 0;
      for (element v : a) {
        fill_portion(portions[i], v, p + "[" + std::to_string(i) + "]");
        ++i;
      }
    } else if (key == "attributes") {
      object o = get_object(value, p);
      std::size_t n = 0;
      for (auto it = o.begin(); it != o.end(); ++it) ++n;
      if (n > limits::attributes_per_item_max) fail(p, "too many attributes");
      if (n == 0) continue;
      auto attrs = item.initAttributes(static_cast<unsigned>(n));
      unsigned i = 0;
      for (auto [name, v] : o) {
        attrs[i].setName(std::string(name));
        if (auto text = get_string(v, p + "." + std::string(name)); !text.empty()) {
          attrs[i].setValue(std::string(text));
        }
        ++i;
      }
    } else {
      fail(p, "unknown field");
    }
  }
}

// Appends `,"key":[...]` unless the list is empty (empty and absent lists are the same item).
void append_names(std::string& out, const char* key, capnp::List<capnp::Text>::Reader list) {
  if (list.size() == 0) return;
  out += ",\"";
  out += key;
  out += "\":[";
  for (unsigned i = 0; i < list.size(); ++i) {
    if (i) out += ',';
    out += '"' + json_escape(view(list[i])) + '"';
  }
  out += ']';
}

void append_label(std::string& out, schema::Label::Reader l) {
  out += "{\"policy\":\"" + json_escape(view(l.getPolicyId())) +
         "\",\"classification\":" + std::to_string(l.getClassification());
  append_names(out, "restrictive", l.getRestrictive());
  append_names(out, "rel_to", l.getPermissive());
  append_names(out, "caveats", l.getCaveats());
  out += ",\"tlp\":\"";
  out += kTlps[static_cast<unsigned>(l.getTlp())];
  out += "\"}";
}

std::string point_json(schema::GeoPoint::Reader p) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "[%.7f,%.7f]", p.getLatE7() / 1e7, p.getLonE7() / 1e7);
  return buf;
}

}  // namespace

Result<Message<schema::Item>> item_from_json(std::string_view json) {
  if (json.size() > item_json_bytes_max) {
    return malformed("json: " + std::to_string(json.size()) + " bytes exceeds the limit of " +
                     std::to_string(item_json_bytes_max));
  }
  simdjson::dom::parser parser(item_json_bytes_max);
  if (parser.allocate(json.size() + 1, limits::item_json_depth_max) != simdjson::SUCCESS) {
    return malformed("json: cannot allocate parser");
  }
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return malformed(std::string("json: ") + simdjson::error_message(err));
  }
  // No duplicate key and no NUL anywhere: a text body holding NUL is written as body_base64.
  if (Status s = check_tree(root, "json: $", false); !s.ok()) return s;
  capnp::MallocMessageBuilder message;
  auto item = message.initRoot<schema::Item>();
  try {
    fill_item(item, root);
  } catch (const Fail& f) {
    return f.status;
  } catch (const kj::Exception& e) {
    return malformed("json: " + std::string(e.getDescription().cStr()));
  }
  CG_RETURN_IF_ERROR(validate_item(item.asReader()));
  return canonical(item.asReader());
}

std::string item_to_json(schema::Item::Reader item) {
  std::string out = "{\"id\":\"" + to_hex({item.getId().begin(), item.getId().size()}) +
                    "\",\"source\":\"" + json_escape(view(item.getSource())) + "\",\"kind\":\"";
  auto kind = static_cast<unsigned>(item.getKind());
  out += kind < kKinds.size() ? kKinds[kind] : "?";
  out += "\",\"precedence\":\"";
  auto prec = static_cast<unsigned>(item.getPrecedence());
  out += prec < kPrecedences.size() ? kPrecedences[prec] : "?";
  out += "\",\"created\":\"" + format_time(item.getCreated()) + "\"";
  if (item.getExpires() != 0) out += ",\"expires\":\"" + format_time(item.getExpires()) + "\"";
  out += ",\"banner\":";
  append_label(out, item.getBanner());
  append_names(out, "topics", item.getTopics());
  auto area = item.getArea();
  if (area.isPoint()) out += ",\"area\":{\"point\":" + point_json(area.getPoint()) + "}";
  if (area.isBox()) {
    out += ",\"area\":{\"box\":[" + point_json(area.getBox().getSouthWest()) + "," +
           point_json(area.getBox().getNorthEast()) + "]}";
  }
  out += ",\"portions\":[";
  auto portions = item.getPortions();
  for (unsigned i = 0; i < portions.size(); ++i) {
    auto p = portions[i];
    if (i) out += ',';
    out += "{";
    if (p.getName().size() > 0) out += "\"name\":\"" + json_escape(view(p.getName())) + "\",";
    out += "\"label\":";
    append_label(out, p.getLabel());
    out += ",\"content_type\":\"" + json_escape(view(p.getContentType())) + "\",\"required\":";
    out += p.getRequired() ? "true" : "false";
    auto body = p.getBody();
    std::string_view text(reinterpret_cast<const char*>(body.begin()), body.size());
    const bool is_text = view(p.getContentType()).starts_with("text/") &&
                         validate_text_body(text) && text.find('\0') == std::string_view::npos;
    if (is_text) {
      out += ",\"body\":\"" + json_escape(text) + "\"}";
    } else {
      std::string b64(sodium_base64_ENCODED_LEN(body.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
      sodium_bin2base64(b64.data(), b64.size(), body.begin(), body.size(),
                        sodium_base64_VARIANT_ORIGINAL);
      b64.resize(std::strlen(b64.c_str()));
      out += ",\"body_base64\":\"" + b64 + "\"}";
    }
  }
  out += "]";
  auto attrs = item.getAttributes();
  if (attrs.size() > 0) {
    out += ",\"attributes\":{";
    for (unsigned i = 0; i < attrs.size(); ++i) {
      if (i) out += ',';
      out += "\"" + json_escape(view(attrs[i].getName())) + "\":\"" +
             json_escape(view(attrs[i].getValue())) + "\"";
    }
    out += "}";
  }
  out += "}";
  return out;
}

}  // namespace cg::wire
