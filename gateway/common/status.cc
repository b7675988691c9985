#include "gateway/common/status.h"

namespace cg {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::ok:
      return "ok";
    case Code::malformed:
      return "malformed";
    case Code::unauthenticated:
      return "unauthenticated";
    case Code::rejected:
      return "rejected";
    case Code::overloaded:
      return "overloaded";
    case Code::io:
      return "io";
  }
  CG_UNREACHABLE();
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string out(code_name(code_));
  out += ": ";
  out += reason_;
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string reason(context);
  reason += ": ";
  reason += reason_;
  return Status(code_, std::move(reason));
}

}  // namespace cg
