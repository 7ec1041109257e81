#include "gateway/lwm2m/path.h"

#include <cassert>
#include <string>

#include "gateway/lwm2m/diagnostic.h"

namespace lwgate::lwm2m {
namespace {

Error badPath(std::string_view text, const std::string& why) {
  return makeError(ErrorCode::kBadRequest, "path " + quoteForMessage(text) + ": " + why);
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
