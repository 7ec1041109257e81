// Fuzz target: what lwgatectl parses from its command line before anything goes on the bus
// (cli/values.h): typed values, RID=VALUE and attribute/setting assignments, hex and base64,
// Execute arguments, device object paths. Input: byte 0 chooses the value type, the rest is the
// text. Properties: hex and base64 decode what they encode (and what they accept re-encodes
// to bytes that decode the same); a device path is a valid D-Bus object path whose last
// segment decodes to the endpoint.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cli/values.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// D-Bus object path element characters (D-Bus specification, "Valid Object Paths").
bool validPathSegment(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lwgate;
  using fuzz::check;
  fuzz::Reader in({data, size});
  const std::uint8_t selector = in.byte();
  const auto rest = in.rest();
  const std::string_view text = fuzz::asText(rest.data(), rest.size());
  const cli::Bytes bytes(rest.begin(), rest.end());

  const auto& names = cli::valueTypeNames();
  auto type = cli::parseValueType(names[selector % names.size()]);
  check(type.ok(), "listed type names parse");
  (void)cli::parseValue(text, *type);
  (void)cli::parseValueType(text);
  (void)cli::parseResourceAssignment(text, *type);
  (void)cli::parseAttribute(text);
  (void)cli::parseSetting(text);
  (void)cli::pathDepth(text);
  (void)cli::joinExecuteArguments({std::string(text), std::string(text)});

  auto hex = cli::fromHex(cli::toHex(bytes));
  check(hex.ok() && *hex == bytes, "fromHex(toHex(x)) == x");
  auto b64 = cli::fromBase64(cli::toBase64(bytes));
  check(b64.ok() && *b64 == bytes, "fromBase64(toBase64(x)) == x");
  if (auto h = cli::fromHex(text)) check(*cli::fromHex(cli::toHex(*h)) == *h, "hex re-encodes");
  if (auto b = cli::fromBase64(text)) {
    check(*cli::fromBase64(cli::toBase64(*b)) == *b, "base64 re-encodes");
  }

  const std::string path = cli::devicePath(text);
  const std::string_view prefix = "/org/lwgate/Gateway1/device/";
  check(path.starts_with(prefix), "device path prefix");
  check(validPathSegment(std::string_view(path).substr(prefix.size())), "valid D-Bus path");
  check(cli::endpointFromDevicePath(path) == text, "endpointFromDevicePath(devicePath(x)) == x");
  (void)cli::endpointFromDevicePath(text);
  return 0;
}
