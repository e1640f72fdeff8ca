# One warning set for every target of ours; -Werror in CI (OSTLS_WERROR=ON).
add_library(ostls_warnings INTERFACE)
target_compile_options(ostls_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
  -Wimplicit-fallthrough -Wswitch-enum -Wformat=2
  -Wno-missing-field-initializers  # designated initializers rely on member defaults
  -Wno-mismatched-new-delete       # g++ 12 false positive on Asio coroutine frames at -O2
  -Wno-free-nonheap-object)        # g++ 12 false positive at -O2: a std::string member of a
                                   # coroutine frame's Error "freed" through a constant (proxy.cpp)
if(OSTLS_WERROR)
  target_compile_options(ostls_warnings INTERFACE -Werror)
endif()
