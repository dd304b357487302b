# embed_text.cmake - a file's text as a C array nncc is built with, so that
# one source serves the runtime and the code nncc writes (runtime/
# gemm_portable.h: libnnrt includes it, nncc copies it into --embed-weights
# output).  Bytes in hex, so no character of the file needs escaping; a
# final 0 ends the string.
#   cmake -DIN=file -DOUT=file.c -DNAME=c_name -P embed_text.cmake
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 row)
string(REGEX REPLACE "(${row})" "\\1\n  " bytes "${bytes}")
get_filename_component(src "${IN}" NAME)
file(WRITE "${OUT}.tmp"
  "/* ${src}, as text (compiler/embed_text.cmake); do not edit. */\n"
  "extern const char ${NAME}[];\n"
  "const char ${NAME}[] = {\n  ${bytes}0};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
