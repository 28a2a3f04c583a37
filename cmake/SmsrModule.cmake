# smsr_add_module(<target> <folder> SOURCES <file>... [HEADERS <file>...]
#                 [PUBLIC <dep>...] [PRIVATE <dep>...])
#
# One folder of the source tree as one static library (ARCHITECTURE.md lists them and the
# rule between them). Its include root, build/include/<target>/, holds a link to that folder
# only, so `#include "<folder>/x.hpp"` resolves for the library itself and for whatever links
# it, and a header of a module it does not link is "file not found" at compile time.
# HEADERS links single headers instead of the whole folder (app/serve.hpp: the folder above
# it holds the other app modules). tests/layering/check_layers.py checks the same rule on
# the include lines themselves.
function(smsr_add_module target folder)
  cmake_parse_arguments(ARG "" "" "SOURCES;HEADERS;PUBLIC;PRIVATE" ${ARGN})
  set(root ${PROJECT_BINARY_DIR}/include/${target})
  file(MAKE_DIRECTORY ${root}/${folder})
  if(ARG_HEADERS)
    foreach(header ${ARG_HEADERS})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder}/${header} ${root}/${folder}/${header} SYMBOLIC)
    endforeach()
  else()
    file(REMOVE_RECURSE ${root}/${folder})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
  endif()
  add_library(${target} STATIC ${ARG_SOURCES})
  target_include_directories(${target} PUBLIC ${root})
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC} PRIVATE ${ARG_PRIVATE} smsr_options smsr_sanitizers)
endfunction()
