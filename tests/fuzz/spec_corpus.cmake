# Fills a fuzzing seed folder with the binary modules of the spec tests.
# Run as: cmake -DWAST2JSON=... -DWAST_DIR=... -DOUT_DIR=... -P spec_corpus.cmake
# Every .wast is converted with wast2json in a scratch folder; each module it
# writes as .wasm (valid, invalid and malformed ones alike: all are good
# seeds) is copied under OUT_DIR as <wast>.<n>.wasm. A .wast that wast2json
# cannot read (a proposal it does not know) is skipped.
file(GLOB wast_files ${WAST_DIR}/*.wast)
set(scratch ${OUT_DIR}.scratch)
file(REMOVE_RECURSE ${scratch} ${OUT_DIR})
file(MAKE_DIRECTORY ${scratch} ${OUT_DIR})
set(converted 0)
set(skipped 0)
foreach(wast IN LISTS wast_files)
  get_filename_component(stem ${wast} NAME_WE)
  execute_process(COMMAND ${WAST2JSON} ${wast} -o ${scratch}/${stem}.json
                  RESULT_VARIABLE result OUTPUT_QUIET ERROR_QUIET)
  if(result EQUAL 0)
    math(EXPR converted "${converted} + 1")
  else()
    math(EXPR skipped "${skipped} + 1")
  endif()
endforeach()
file(GLOB modules ${scratch}/*.wasm)
file(COPY ${modules} DESTINATION ${OUT_DIR})
file(REMOVE_RECURSE ${scratch})
list(LENGTH modules module_count)
message(STATUS "fuzz seeds: ${module_count} spec modules from ${converted} .wast files "
               "(${skipped} that wast2json could not read)")
