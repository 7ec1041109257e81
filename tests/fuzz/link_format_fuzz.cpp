// Fuzz target: CoRE Link Format and the registration object list (lwm2m/link_format.h).
// Input: the payload of a Register. Properties: no crash; at most maxLinks links; a parsed
// object list formats to text that parses back to the same list (formatObjectList's contract),
// has no /0 link and no duplicates.
#include <cstddef>
#include <cstdint>
#include <set>
#include <utility>

#include "gateway/lwm2m/link_format.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lwgate;
  using fuzz::check;
  const auto text = fuzz::asText(data, size);

  constexpr std::size_t kMaxLinks = 32;
  if (auto links = lwm2m::parseLinkFormat(text, kMaxLinks)) {
    check(links->size() <= kMaxLinks, "link count within the limit");
  }

  const lwm2m::ObjectListLimits limits{.maxLinks = kMaxLinks};
  auto list = lwm2m::parseObjectList(text, limits);
  if (!list) return 0;
  check(list->links.size() <= kMaxLinks, "object links within the limit");
  std::set<std::pair<int, int>> seen;
  for (const auto& l : list->links) {
    check(l.objectId != 0, "no Security object");
    check(seen.emplace(l.objectId, l.instanceId ? *l.instanceId : -1).second, "no duplicates");
  }
  check(!list->altPath.empty() && list->altPath.front() == '/', "alt path starts with /");
  check(list->altPath == "/" || list->altPath.back() != '/', "alt path has no trailing /");

  const std::string formatted = lwm2m::formatObjectList(*list);
  auto again = lwm2m::parseObjectList(formatted, limits);
  check(again.ok(), "formatObjectList output parses");
  check(*again == *list, "parseObjectList(formatObjectList(x)) == x");
  return 0;
}
