#include "gateway/lwm2m/path.h"

#include <cassert>
#include <string>

namespace lwgate::lwm2m {
namespace {

constexpr std::size_t kMaxEcho = 40;
constexpr std::string_view kHexDigits = "0123456789ABCDEF";

// Peer text made safe for a one-line diagnostic (RFC 7252 5.5.2): printable ASCII as is, other
// bytes as \xNN, cut with "..." after kMaxEcho characters.
std::string quoted(std::string_view in) {
  std::string out = "\"";
  for (char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    std::string piece;
    if (c == '"' || c == '\\') {
      piece = {'\\', ch};
    } else if (c >= 0x20 && c < 0x7f) {
      piece = ch;
    } else {
      piece = {'\\', 'x', kHexDigits[c >> 4], kHexDigits[c & 0xf]};
    }
    if (out.size() - 1 + piece.size() > kMaxEcho) {
      out += "...";
      break;
    }
    out += piece;
  }
  return out + '"';
}

Error badPath(std::string_view text, const std::string& why) {
  return makeError(ErrorCode::kBadRequest, "path " + quoted(text) + ": " + why);
}

}  // namespace

Result<Path> Path::parse(std::string_view text) {
  if (text.empty() || text.front() != '/') return badPath(text, "must start with '/'");
  if (text == "/") return Path();
  std::array<std::uint16_t, kMaxDepth> ids{};
  std::size_t depth = 0;
  std::size_t pos = 1;
  while (true) {
    const std::size_t slash = text.find('/', pos);
    const std::string_view segment =
        text.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    const std::string where = "segment " + std::to_string(depth + 1);
    if (segment.empty()) {
      return badPath(text,
                     slash == std::string_view::npos ? "has a trailing '/'" : where + " is empty");
    }
    if (depth == kMaxDepth) return badPath(text, "more than 4 ids");
    std::uint32_t id = 0;
    for (char c : segment) {
      if (c < '0' || c > '9') return badPath(text, where + " is not a decimal id");
      if (id <= kMaxId) id = id * 10 + static_cast<std::uint32_t>(c - '0');  // no overflow
    }
    if (segment.size() > 1 && segment.front() == '0') {
      return badPath(text, where + " has a leading zero");
    }
    if (id > kMaxId) return badPath(text, where + " is above 65534");
    ids[depth++] = static_cast<std::uint16_t>(id);
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return Path(ids, depth);
}

Path Path::child(std::uint16_t id) const {
  assert(depth_ < kMaxDepth);
  Path p = *this;
  p.ids_[p.depth_++] = id;
  return p;
}

Path Path::parent() const {
  if (depth_ == 0) return *this;
  Path p = *this;
  p.ids_[--p.depth_] = 0;
  return p;
}

bool Path::contains(const Path& other) const {
  if (other.depth_ < depth_) return false;
  for (std::size_t k = 0; k < depth_; ++k) {
    if (ids_[k] != other.ids_[k]) return false;
  }
  return true;
}

std::string Path::toString() const {
  if (depth_ == 0) return "/";
  std::string out;
  for (std::size_t k = 0; k < depth_; ++k) {
    out += '/';
    out += std::to_string(ids_[k]);
  }
  return out;
}

}  // namespace lwgate::lwm2m
