#include "bridge/upstream_config.h"

#include <gtest/gtest.h>

namespace lwgate::bridge {
namespace {

TEST(ParseUpstreamUri, HostAndPort) {
  struct Case {
    const char* uri;
    const char* host;
    std::uint16_t port;
    bool dtls = false;
  };
  for (const Case& c :
       {Case{"coap://example.net", "example.net", 5683},
        Case{"coap://example.net:5783", "example.net", 5783},
        Case{"coap://example.net:5783/", "example.net", 5783},
        Case{"coap://127.0.0.1:1", "127.0.0.1", 1}, Case{"coap://[::1]", "::1", 5683},
        Case{"coap://[::1]:65535", "::1", 65535},
        // coaps: DTLS, default port 5684 (RFC 7252 6.2).
        Case{"coaps://example.net", "example.net", 5684, true},
        Case{"coaps://example.net/", "example.net", 5684, true},
        Case{"coaps://127.0.0.1:5783", "127.0.0.1", 5783, true},
        Case{"coaps://[::1]", "::1", 5684, true}, Case{"coaps://[::1]:1", "::1", 1, true}}) {
    SCOPED_TRACE(c.uri);
    auto u = parseUpstreamUri(c.uri);
    ASSERT_TRUE(u.ok()) << u.error().message;
    EXPECT_EQ(u->host, c.host);
    EXPECT_EQ(u->port, c.port);
    EXPECT_EQ(u->dtls, c.dtls);
  }
}

TEST(ParseUpstreamUri, RefusedWithAReason) {
  struct Case {
    const char* uri;
    const char* why;
  };
  for (const Case& c : {
           Case{"coap+tcp://example.net", "expected coap://HOST[:PORT] or coaps://HOST[:PORT]"},
           Case{"coaps+tcp://example.net", "expected coap://HOST[:PORT]"},
           Case{"example.net:5683", "expected coap://HOST[:PORT]"},
           Case{"coaps://", "empty host"},
           Case{"coaps://h:0", "the port must be a number from 1 to 65535"},
           Case{"coaps://h/rd", "no path"},
           Case{"coaps://id@h", "no path"},
           Case{"coap://", "empty host"},
           Case{"coap://:5683", "empty host"},
           Case{"coap://h:", "empty port"},
           Case{"coap://h:x", "the port must be a number from 1 to 65535"},
           Case{"coap://h:65536", "the port must be a number from 1 to 65535"},
           Case{"coap://h:-1", "the port must be a number from 1 to 65535"},
           Case{"coap://h/rd", "no path"},
           Case{"coap://h?x=1", "no path"},
           Case{"coap://u@h", "no path"},
           Case{"coap://::1:5683", "write an IPv6 address in brackets"},
           Case{"coap://[::1", "missing ']'"},
           Case{"coap://[::1]5683", "expected :PORT after ']'"},
           Case{"coap://h st", "spaces or control characters"},
       }) {
    SCOPED_TRACE(c.uri);
    auto u = parseUpstreamUri(c.uri);
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.error().code, ErrorCode::kBadRequest);
    EXPECT_NE(u.error().message.find(c.why), std::string::npos) << u.error().message;
  }
}

TEST(UpstreamConfig, CredentialEndpointFollowsThePskMode) {
  UpstreamConfig c;
  c.endpointPrefix = "gw-";
  EXPECT_EQ(c.pskMode, PskMode::kDevice);  // the default
  EXPECT_EQ(c.credentialEndpoint("meter-1"), "meter-1");
  c.pskMode = PskMode::kGateway;
  EXPECT_EQ(c.credentialEndpoint("meter-1"), "");
  EXPECT_EQ(pskModeName(PskMode::kGateway), "gateway");
  EXPECT_EQ(pskModeName(PskMode::kDevice), "device");
}

TEST(MatchesPattern, GlobWithStarAndQuestionMark) {
  EXPECT_TRUE(matchesPattern("*", ""));
  EXPECT_TRUE(matchesPattern("*", "anything"));
  EXPECT_TRUE(matchesPattern("meter-1", "meter-1"));
  EXPECT_FALSE(matchesPattern("meter-1", "meter-10"));
  EXPECT_TRUE(matchesPattern("meter-*", "meter-"));
  EXPECT_TRUE(matchesPattern("meter-*", "meter-17"));
  EXPECT_FALSE(matchesPattern("meter-*", "pump-17"));
  EXPECT_TRUE(matchesPattern("*-17", "pump-17"));
  EXPECT_TRUE(matchesPattern("a*b*c", "axxbyybzc"));
  EXPECT_FALSE(matchesPattern("a*b*c", "axxbyybz"));
  EXPECT_TRUE(matchesPattern("p?mp", "pump"));
  EXPECT_FALSE(matchesPattern("p?mp", "pmp"));
  EXPECT_TRUE(matchesPattern("**x", "x"));
  EXPECT_FALSE(matchesPattern("", "x"));
  // Worst cases stay cheap: no recursion, bounded backtracking.
  EXPECT_FALSE(matchesPattern(std::string(100, '*') + "b", std::string(255, 'a')));
}

TEST(UpstreamConfig, BridgesWhatAnyPatternMatches) {
  UpstreamConfig u;
  EXPECT_TRUE(u.bridges("anything"));
  u.devices = {"a-*", "b-1"};
  EXPECT_TRUE(u.bridges("a-7"));
  EXPECT_TRUE(u.bridges("b-1"));
  EXPECT_FALSE(u.bridges("b-2"));
  u.endpointPrefix = "gw1/";
  EXPECT_EQ(u.upstreamEndpoint("a-7"), "gw1/a-7");
}

TEST(CheckPatternAndPrefix, Limits) {
  EXPECT_TRUE(checkDevicePattern("*").ok());
  EXPECT_FALSE(checkDevicePattern("").ok());
  EXPECT_FALSE(checkDevicePattern(std::string(256, 'a')).ok());
  EXPECT_FALSE(checkDevicePattern("a\tb").ok());
  EXPECT_TRUE(checkEndpointPrefix("").ok());
  EXPECT_TRUE(checkEndpointPrefix(std::string(128, 'p')).ok());
  EXPECT_FALSE(checkEndpointPrefix(std::string(129, 'p')).ok());
  EXPECT_FALSE(checkEndpointPrefix("a b").ok());
}

}  // namespace
}  // namespace lwgate::bridge
