# nncc_add_model(<target> <model.nn> [MAIN] [INFERENCE_ONLY]
#                [EMBED_WEIGHTS <checkpoint>] [OPTIONS <nncc flags>...])
#
# Compiles <model.nn> with nncc at build time, as protobuf_generate does a
# .proto: into <stem>.c and <stem>.h (<stem>: the file's name without .nn)
# in ${CMAKE_CURRENT_BINARY_DIR}/nncc-gen/<target>/, made again whenever the
# .nn file, the checkpoint or nncc itself changes.  The .c joins <target>'s
# sources, its directory <target>'s include path (PUBLIC: a library's users
# see the header too), and <target> links the runtime (PUBLIC): nncc::nnrt,
# or with MAIN nncc::nnrt_train (which brings nncc::nnrt), or with
# EMBED_WEIGHTS none (libm alone).
#
#   MAIN            nncc --main: a main() that makes <target> a trainer
#                   (`<target> train --data DIR`, test, predict)
#   INFERENCE_ONLY  nncc --inference-only: no training code
#   EMBED_WEIGHTS   nncc --embed-weights <checkpoint>: the weights compiled in
#   OPTIONS         any other nncc flags, e.g. -O0 or --dtype f64
#
# A relative <model.nn> or <checkpoint> is taken from the current source
# directory.  nncc is nncc::nncc (find_package(nncc), or nncc's own build).
function(nncc_add_model target model)
  cmake_parse_arguments(PARSE_ARGV 2 arg "MAIN;INFERENCE_ONLY" "EMBED_WEIGHTS" "OPTIONS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "nncc_add_model: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "nncc_add_model: no target '${target}' (add_executable or add_library first)")
  endif()
  if(NOT TARGET nncc::nncc)
    message(FATAL_ERROR "nncc_add_model: no nncc::nncc (find_package(nncc) first)")
  endif()
  if("EMBED_WEIGHTS" IN_LIST arg_KEYWORDS_MISSING_VALUES)
    message(FATAL_ERROR "nncc_add_model: EMBED_WEIGHTS needs a checkpoint")
  endif()
  get_filename_component(model ${model} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  get_filename_component(stem ${model} NAME_WLE)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/nncc-gen/${target})
  get_property(stems TARGET ${target} PROPERTY NNCC_MODEL_STEMS)
  if(stem IN_LIST stems)
    message(FATAL_ERROR "nncc_add_model: ${target} has a model named ${stem} already")
  endif()
  set_property(TARGET ${target} APPEND PROPERTY NNCC_MODEL_STEMS ${stem})

  set(flags ${arg_OPTIONS})
  set(depends ${model} $<TARGET_FILE:nncc::nncc>)
  if(arg_MAIN)
    list(APPEND flags --main)
  endif()
  if(arg_INFERENCE_ONLY)
    list(APPEND flags --inference-only)
  endif()
  if(arg_EMBED_WEIGHTS)
    get_filename_component(ckpt ${arg_EMBED_WEIGHTS} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    file(RELATIVE_PATH ckpt_source ${CMAKE_CURRENT_SOURCE_DIR} ${ckpt})
    list(APPEND flags --embed-weights ${ckpt_source})
    list(APPEND depends ${ckpt})
  endif()
  # nncc runs in the source directory on the paths from there, so the C
  # quotes the model as `blobs.nn:8:` wherever the project is checked out.
  file(RELATIVE_PATH source ${CMAKE_CURRENT_SOURCE_DIR} ${model})
  string(JOIN " " comment nncc ${flags} ${source})
  add_custom_command(
    OUTPUT ${dir}/${stem}.c ${dir}/${stem}.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND nncc::nncc ${flags} ${source} -o ${dir}/${stem}.c
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    DEPENDS ${depends}
    COMMENT "${comment}"
    VERBATIM)
  target_sources(${target} PRIVATE ${dir}/${stem}.c ${dir}/${stem}.h)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${dir}>)
  if(arg_MAIN)
    target_link_libraries(${target} PUBLIC nncc::nnrt_train)
  elseif(arg_EMBED_WEIGHTS)
    if(UNIX)  # embedded C needs no runtime library, only the C library's math
      target_link_libraries(${target} PUBLIC m)
    endif()
  else()
    target_link_libraries(${target} PUBLIC nncc::nnrt)
  endif()
endfunction()
