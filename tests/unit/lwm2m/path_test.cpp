#include "gateway/lwm2m/path.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/lwm2m/error_assertions.h"

namespace lwgate::lwm2m {
namespace {

using testing::failsWith;

TEST(PathTest, ParsesEveryDepth) {
  struct Case {
    const char* text;
    std::vector<std::uint16_t> ids;
  };
  const std::vector<Case> cases = {
      {"/", {}},
      {"/3", {3}},
      {"/3/0", {3, 0}},
      {"/3/0/9", {3, 0, 9}},
      {"/3/0/6/1", {3, 0, 6, 1}},
      {"/65534/65534/65534/65534", {65534, 65534, 65534, 65534}},
      {"/10/0/100", {10, 0, 100}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto p = Path::parse(c.text);
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_EQ(p->depth(), c.ids.size());
    for (std::size_t k = 0; k < c.ids.size(); ++k) EXPECT_EQ(p->id(k), c.ids[k]);
    EXPECT_EQ(p->toString(), c.text);
  }
}

TEST(PathTest, RefusesMalformedText) {
  EXPECT_TRUE(failsWith(Path::parse(""), ErrorCode::kBadRequest, "must start with '/'"));
  EXPECT_TRUE(failsWith(Path::parse("3/0"), ErrorCode::kBadRequest, "must start with '/'"));
  EXPECT_TRUE(failsWith(Path::parse("/3/"), ErrorCode::kBadRequest, "trailing '/'"));
  EXPECT_TRUE(failsWith(Path::parse("//3"), ErrorCode::kBadRequest, "segment 1 is empty"));
  EXPECT_TRUE(failsWith(Path::parse("/3//1"), ErrorCode::kBadRequest, "segment 2 is empty"));
  EXPECT_TRUE(
      failsWith(Path::parse("/03"), ErrorCode::kBadRequest, "segment 1 has a leading zero"));
  EXPECT_TRUE(failsWith(Path::parse("/3/00"), ErrorCode::kBadRequest, "leading zero"));
  EXPECT_TRUE(failsWith(Path::parse("/-1"), ErrorCode::kBadRequest, "not a decimal id"));
  EXPECT_TRUE(failsWith(Path::parse("/+1"), ErrorCode::kBadRequest, "not a decimal id"));
  EXPECT_TRUE(failsWith(Path::parse("/3/a"), ErrorCode::kBadRequest, "segment 2 is not a decimal"));
  EXPECT_TRUE(failsWith(Path::parse("/3/0 "), ErrorCode::kBadRequest, "not a decimal id"));
  EXPECT_TRUE(failsWith(Path::parse("/65535"), ErrorCode::kBadRequest, "above 65534"));
  EXPECT_TRUE(
      failsWith(Path::parse("/99999999999999999999"), ErrorCode::kBadRequest, "above 65534"));
  EXPECT_TRUE(failsWith(Path::parse("/1/2/3/4/5"), ErrorCode::kBadRequest, "more than 4 ids"));
}

TEST(PathTest, ErrorMessagesEchoLittleAndStayPrintable) {
  const std::string longText = "/" + std::string(500, '1');
  EXPECT_TRUE(failsWith(Path::parse(longText), ErrorCode::kBadRequest, "..."));
  EXPECT_TRUE(failsWith(Path::parse("/3/\x01\xff"), ErrorCode::kBadRequest, "\\x01\\xFF"));
}

TEST(PathTest, ChildParentContains) {
  const Path root;
  EXPECT_TRUE(root.isRoot());
  EXPECT_EQ(root.toString(), "/");
  EXPECT_EQ(root.parent(), root);

  const Path r = root.child(3).child(0).child(9);
  EXPECT_EQ(r, Path::resource(3, 0, 9));
  EXPECT_TRUE(r.isResource());
  EXPECT_EQ(r.parent(), Path::instance(3, 0));
  EXPECT_EQ(r.parent().parent(), Path::object(3));
  EXPECT_EQ(r.parent().parent().parent(), root);
  EXPECT_EQ(r.child(2), Path::resourceInstance(3, 0, 9, 2));
  EXPECT_EQ(r.child(2).resourceInstanceId(), 2);
  // parent() then child() gives a path equal to one built directly.
  EXPECT_EQ(Path::resource(3, 0, 9).parent().child(7), Path::resource(3, 0, 7));

  EXPECT_TRUE(root.contains(r));
  EXPECT_TRUE(Path::object(3).contains(r));
  EXPECT_TRUE(Path::instance(3, 0).contains(r));
  EXPECT_TRUE(r.contains(r));
  EXPECT_TRUE(r.contains(r.child(1)));
  EXPECT_FALSE(r.contains(r.parent()));
  EXPECT_FALSE(Path::instance(3, 1).contains(r));
  EXPECT_FALSE(Path::object(30).contains(r));
}

TEST(PathTest, OrdersByIdsThenDepth) {
  EXPECT_LT(Path(), Path::object(0));
  EXPECT_LT(Path::object(3), Path::instance(3, 0));
  EXPECT_LT(Path::instance(3, 0), Path::object(4));
  EXPECT_LT(Path::resource(3, 0, 2), Path::resource(3, 0, 10));
  EXPECT_NE(Path::object(3), Path::instance(3, 0));
}

}  // namespace
}  // namespace lwgate::lwm2m
