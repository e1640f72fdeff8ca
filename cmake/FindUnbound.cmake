# libunbound: header + shared library. (Debian's libunbound.pc lists libevent as a private
# requirement without depending on its -dev package, so pkg-config cannot be used as is.)
find_path(Unbound_INCLUDE_DIR unbound.h)
find_library(Unbound_LIBRARY unbound)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Unbound REQUIRED_VARS Unbound_LIBRARY Unbound_INCLUDE_DIR)
if(Unbound_FOUND AND NOT TARGET Unbound::Unbound)
  add_library(Unbound::Unbound UNKNOWN IMPORTED)
  set_target_properties(Unbound::Unbound PROPERTIES
    IMPORTED_LOCATION "${Unbound_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Unbound_INCLUDE_DIR}")
endif()
