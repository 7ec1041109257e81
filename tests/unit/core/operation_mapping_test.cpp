#include "gateway/core/operation_mapping.h"

#include <gtest/gtest.h>

namespace lwgate::core {
namespace {

Registration device(std::string version = "1.1", std::string alt = "/",
                    std::vector<std::uint16_t> ct = {}) {
  Registration reg;
  reg.endpoint = "dev";
  reg.version = std::move(version);
  reg.objects.altPath = std::move(alt);
  reg.objects.contentFormats = std::move(ct);
  return reg;
}

DownlinkRequest op(Operation o, std::string path, std::string payload = "") {
  DownlinkRequest r;
  r.endpoint = "dev";
  r.operation = o;
  r.path = std::move(path);
  r.payload.assign(payload.begin(), payload.end());
  return r;
}

OutgoingRequest ok(const DownlinkRequest& r, const Registration& reg = device()) {
  auto out = toCoapRequest(r, reg);
  EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message);
  return out.ok() ? *out : OutgoingRequest{};
}

std::string rejected(const DownlinkRequest& r, const Registration& reg = device()) {
  auto out = toCoapRequest(r, reg);
  EXPECT_FALSE(out.ok());
  if (out.ok()) return "";
  EXPECT_EQ(out.error().code, ErrorCode::kBadRequest);
  return out.error().message;
}

using Path = std::vector<std::string>;

TEST(OperationMapping, ReadIsGetWithTheDevicesBestFormat) {
  auto out = ok(op(Operation::kRead, "/3/0/9"));
  EXPECT_EQ(out.method, Method::kGet);
  EXPECT_EQ(out.uriPath, (Path{"3", "0", "9"}));
  EXPECT_EQ(out.accept, 11542) << "TLV when the device declared nothing";
  EXPECT_EQ(ok(op(Operation::kRead, "/3"), device("1.1", "/", {110, 112})).accept, 112);
  EXPECT_EQ(ok(op(Operation::kRead, "/3"), device("1.1", "/", {110})).accept, 110);
  EXPECT_EQ(ok(op(Operation::kRead, "/3"), device("1.0", "/", {11543})).accept, 11543);
  auto asked = op(Operation::kRead, "/3/0/0");
  asked.acceptFormat = 0;
  EXPECT_EQ(ok(asked, device("1.1", "/", {112})).accept, 0) << "the caller's choice wins";
  EXPECT_FALSE(rejected(op(Operation::kRead, "/")).empty());
}

TEST(OperationMapping, AlternatePathPrefixesEveryPath) {
  auto out = ok(op(Operation::kRead, "/3/0"), device("1.1", "/lwm2m/v1"));
  EXPECT_EQ(out.uriPath, (Path{"lwm2m", "v1", "3", "0"}));
  auto comp =
      ok(op(Operation::kReadComposite, "/", "[{\"n\":\"/3/0/9\"}]"), device("1.1", "/lwm2m"));
  EXPECT_EQ(comp.uriPath, (Path{"lwm2m"}));
}

TEST(OperationMapping, DiscoverAsksForLinkFormat) {
  auto out = ok(op(Operation::kDiscover, "/3"));
  EXPECT_EQ(out.method, Method::kGet);
  EXPECT_EQ(out.accept, 40);
  EXPECT_FALSE(rejected(op(Operation::kDiscover, "/3/0/6/1")).empty());
}

TEST(OperationMapping, WritesAreReplaceOrPartial) {
  auto put = ok(op(Operation::kWrite, "/1/0/1", "300"));
  EXPECT_EQ(put.method, Method::kPut);
  EXPECT_EQ(put.contentFormat, 11542);
  EXPECT_EQ(put.payload.size(), 3u);
  auto text = op(Operation::kWrite, "/1/0/1", "300");
  text.contentFormat = 0;
  EXPECT_EQ(ok(text).contentFormat, 0);
  auto post = ok(op(Operation::kWritePartial, "/1/0", "x"));
  EXPECT_EQ(post.method, Method::kPost);
  EXPECT_NE(rejected(op(Operation::kWrite, "/1/0/1")).find("needs a payload"), std::string::npos);
  EXPECT_FALSE(rejected(op(Operation::kWrite, "/1", "x")).empty());
}

TEST(OperationMapping, WriteAttributesBecomeQueryOptions) {
  auto out = ok(op(Operation::kWriteAttributes, "/3/0/9", "pmin=10&pmax=60&gt=20.5&st="));
  EXPECT_EQ(out.method, Method::kPut);
  EXPECT_EQ(out.uriQuery, (Path{"pmin=10", "pmax=60", "gt=20.5", "st="}));
  EXPECT_TRUE(out.payload.empty());
  EXPECT_NE(rejected(op(Operation::kWriteAttributes, "/3/0/9", "pmin=1&pmin=2")).find("twice"),
            std::string::npos);
  EXPECT_NE(rejected(op(Operation::kWriteAttributes, "/3/0/9", "speed=1")).find("unknown"),
            std::string::npos);
  EXPECT_NE(rejected(op(Operation::kWriteAttributes, "/3/0/9", "pmin=ten")).find("number"),
            std::string::npos);
  EXPECT_FALSE(rejected(op(Operation::kWriteAttributes, "/3/0/9", "")).empty());
  EXPECT_FALSE(rejected(op(Operation::kWriteAttributes, "/3/0/9", "edge=1")).empty())
      << "edge is LwM2M 1.2";
  EXPECT_EQ(ok(op(Operation::kWriteAttributes, "/3/0/9", "edge=1"), device("1.2")).uriQuery,
            (Path{"edge=1"}));
}

TEST(OperationMapping, ExecuteCreateDelete) {
  auto exec = ok(op(Operation::kExecute, "/3/0/4"));
  EXPECT_EQ(exec.method, Method::kPost);
  EXPECT_FALSE(exec.contentFormat.has_value());
  auto args = ok(op(Operation::kExecute, "/3/0/4", "0='now'"));
  EXPECT_EQ(args.contentFormat, 0);
  EXPECT_FALSE(rejected(op(Operation::kExecute, "/3/0")).empty());
  auto create = ok(op(Operation::kCreate, "/42", "x"));
  EXPECT_EQ(create.method, Method::kPost);
  EXPECT_EQ(create.uriPath, (Path{"42"}));
  EXPECT_FALSE(rejected(op(Operation::kCreate, "/42/0", "x")).empty());
  auto del = ok(op(Operation::kDelete, "/42/0"));
  EXPECT_EQ(del.method, Method::kDelete);
  EXPECT_FALSE(rejected(op(Operation::kDelete, "/42/0/1")).empty());
}

TEST(OperationMapping, ObserveAndCancel) {
  auto obs = ok(op(Operation::kObserve, "/3/0/9"));
  EXPECT_EQ(obs.method, Method::kGet);
  EXPECT_EQ(obs.observe, 0u);
  EXPECT_EQ(ok(op(Operation::kCancelObserve, "/3/0/9")).observe, 1u);
  EXPECT_TRUE(obs.uriQuery.empty());
}

TEST(OperationMapping, ObserveCarriesNotificationAttributesAsQuery) {
  auto obs = ok(op(Operation::kObserve, "/3303/0/5700", "pmin=1&pmax=30"));
  EXPECT_EQ(obs.observe, 0u);
  EXPECT_EQ(obs.uriQuery, (std::vector<std::string>{"pmin=1", "pmax=30"}));
  EXPECT_NE(rejected(op(Operation::kObserve, "/3/0/9", "color=red")).find("unknown attribute"),
            std::string::npos);
}

TEST(OperationMapping, PlainLwm2m10DevicesGetTextForSingleValues) {
  const auto plain = device("1.0");
  EXPECT_EQ(ok(op(Operation::kRead, "/3/0/0"), plain).accept, 0u) << "a single resource";
  EXPECT_EQ(ok(op(Operation::kRead, "/3/0/7/1"), plain).accept, 0u) << "a resource instance";
  EXPECT_EQ(ok(op(Operation::kRead, "/3/0/7"), plain).accept, 11542u) << "multiple: TLV";
  EXPECT_EQ(ok(op(Operation::kRead, "/3/0"), plain).accept, 11542u) << "an instance: TLV";
  EXPECT_EQ(ok(op(Operation::kRead, "/3303/0/5700"), plain).accept, 11542u)
      << "unknown to the model: it may have instances";
  EXPECT_EQ(ok(op(Operation::kObserve, "/1/0/1"), plain).accept, 0u);
  // Declared formats, or 1.1, keep the usual choice.
  EXPECT_EQ(ok(op(Operation::kRead, "/3/0/0"), device("1.0", "/", {11542})).accept, 11542u);
  EXPECT_EQ(ok(op(Operation::kRead, "/3/0/0"), device("1.1")).accept, 11542u);
}

TEST(OperationMapping, CompositesNeedLwm2m11AndSenml) {
  auto read = ok(op(Operation::kReadComposite, "/", "names"));
  EXPECT_EQ(read.method, Method::kFetch);
  EXPECT_EQ(read.contentFormat, 112);
  EXPECT_EQ(read.accept, 112);
  auto write = ok(op(Operation::kWriteComposite, "/", "values"), device("1.1", "/", {110}));
  EXPECT_EQ(write.method, Method::kIPatch);
  EXPECT_EQ(write.contentFormat, 110);
  EXPECT_EQ(ok(op(Operation::kObserveComposite, "/", "names")).observe, 0u);
  EXPECT_NE(rejected(op(Operation::kReadComposite, "/", "x"), device("1.0")).find("1.1"),
            std::string::npos);
  auto tlv = op(Operation::kWriteComposite, "/", "x");
  tlv.contentFormat = 11542;
  EXPECT_FALSE(rejected(tlv).empty());
}

TEST(OperationMapping, BadPathsAreRejected) {
  for (const char* p : {"", "3/0", "/3/", "/3/x", "/70000", "/1/2/3/4/5"}) {
    EXPECT_FALSE(rejected(op(Operation::kRead, p)).empty()) << p;
  }
}

}  // namespace
}  // namespace lwgate::core
