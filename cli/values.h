#pragma once
// What lwgatectl sends: the typing of command-line values (Write, Create, Write-Attributes),
// hex/base64 for opaque values and D-Bus object paths of devices. Pure (no D-Bus), so every
// rule here is unit-tested with strings; client.cpp turns a Value into an sdbus::Variant.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/util/result.h"

namespace lwgate::cli {

using Bytes = std::vector<std::uint8_t>;

// One value as the D-Bus API takes it (org.lwgate.Gateway1.xml, "Values"): s, b, x, t, d, ay.
// Time travels as x (Unix seconds) and an object link as s "O:I", as the XML says.
using Value = std::variant<std::string, bool, std::int64_t, std::uint64_t, double, Bytes>;

// --type. kAuto sends the text as a string: for the OMA core objects the daemon converts it to
// the resource's type ("300" for /1/0/1), for other objects it stays a string.
enum class ValueType {
  kAuto,
  kString,
  kInteger,
  kUnsigned,
  kFloat,
  kBoolean,
  kOpaque,
  kTime,
  kObjlnk,
};

// The names --type accepts, in the order --help lists them.
const std::vector<std::string>& valueTypeNames();
Result<ValueType> parseValueType(std::string_view name);

// Parses text as a value of the given type:
//   integer   decimal int64 ("-5")            unsigned  decimal uint64
//   float     finite decimal ("1.5", "2e3")   boolean   true, false, 1, 0
//   string    the text as it is               opaque    hex digits ("deadbeef", "0xdeadbeef",
//                                                       "" for none) or "base64:3q2+7w=="
//   time      Unix seconds ("1700000000") or RFC 3339 ("2023-11-14T22:13:20Z",
//             "2023-11-14T23:13:20+01:00")
//   objlnk    "O:I", both 0..65535 ("3:0")
// Errors say what was expected, e.g. "'abc' is not an integer".
Result<Value> parseValue(std::string_view text, ValueType type);

// A "KEY=VALUE" argument (resource values of instance writes and Create, attributes).
struct Assignment {
  std::string key;
  Value value;
};

// "RID=VALUE" or "RID:TYPE=VALUE" (e.g. "1=300", "7/0=x", "5:opaque=00ff"). RID is a resource
// id or "resource/instance"; the type defaults to defaultType.
Result<Assignment> parseResourceAssignment(std::string_view text, ValueType defaultType);

// A Write-Attributes argument "NAME=VALUE" (TS Core 5.1.2): pmin, pmax, epmin, epmax, edge, con,
// hqmax as unsigned; gt, lt, st as float; "NAME=" (empty) removes the attribute (sent as "").
// Other names are sent as strings so a newer daemon can accept them; the daemon decides.
Result<Assignment> parseAttribute(std::string_view text);

// A device setting "NAME=VALUE" (SetDeviceSettings): awake_window as float seconds,
// server_instance as unsigned 0..65535, sms_number as text; "NAME=" (empty) clears it (sent as
// ""). Other names are sent as strings; the daemon decides.
Result<Assignment> parseSetting(std::string_view text);

// Execute arguments (TS Core 5.4.5 grammar "0='v',1") from the words after the path: joined
// with ",", so `exec EP /3/0/4 0=\'a\' 1` and `exec EP /3/0/4 "0='a',1"` are the same.
std::string joinExecuteArguments(const std::vector<std::string>& words);

// The number of segments of an LwM2M path ("/3/0" -> 2, "/" -> 0); -1 when it does not start
// with "/" or has an empty segment. Only used to choose between the forms of `write`; the
// daemon validates paths.
int pathDepth(std::string_view path);

std::string toHex(const Bytes& bytes);
std::string toBase64(const Bytes& bytes);
Result<Bytes> fromHex(std::string_view text);
Result<Bytes> fromBase64(std::string_view text);

// /org/lwgate/Gateway1/device/<endpoint escaped like sd_bus_path_encode(3)>.
std::string devicePath(std::string_view endpoint);
// The inverse for the last segment; the text as it is when it is not a valid escape.
std::string endpointFromDevicePath(std::string_view path);

}  // namespace lwgate::cli
