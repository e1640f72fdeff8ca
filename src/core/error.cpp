#include "core/error.hpp"

#include <array>

#include "core/names.hpp"

namespace ostls {
namespace {

constexpr std::array<Named<Fault>, 7> fault_table{{
    {Fault::None, "none"},
    {Fault::Config, "config"},
    {Fault::Local, "local"},
    {Fault::Network, "network"},
    {Fault::Dns, "dns"},
    {Fault::Peer, "peer"},
    {Fault::Policy, "policy"},
}};
static_assert(covers(fault_table, 7));

constexpr std::array<Named<Errc>, 14> errc_table{{
    {Errc::Usage, "usage"},
    {Errc::Resolve, "resolve"},
    {Errc::Connect, "connect"},
    {Errc::Timeout, "timeout"},
    {Errc::Closed, "closed"},
    {Errc::Io, "io"},
    {Errc::LineTooLong, "line-too-long"},
    {Errc::ReplyTooLong, "reply-too-long"},
    {Errc::Malformed, "malformed"},
    {Errc::TempRejected, "temp-rejected"},
    {Errc::Rejected, "rejected"},
    {Errc::Handshake, "handshake"},
    {Errc::Tls, "tls"},
    {Errc::Store, "store"},
}};
static_assert(covers(errc_table, 14));

}  // namespace

std::string_view name(Fault f) { return name_in(fault_table, f); }
std::string_view name(Errc e) { return name_in(errc_table, e); }

}  // namespace ostls
