#!/usr/bin/python3
"""Dev-time fixture generator for the .npy/.npz reader tests (NpyTests, NpzArchiveTests).

Not run by the tests: its outputs are committed beside it, and the C# tests assert the exact values
written here. Re-run with Debian's numpy (`/usr/bin/python3 make_fixtures.py`) only to change them.
"""
import io, os
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))

arrays = {
    'f4': np.array([[1.5, -2.25, 0.0], [3.4028235e38, 1e-45, -0.0]], dtype='<f4'),
    'f2': np.array([0.5, -65504.0, 6.1035156e-05], dtype='<f2'),
    'f8': np.array([1.0 / 3.0, -1e300, 5e-324], dtype='<f8'),
    'i8': np.array([-9223372036854775808, 9223372036854775807, 0], dtype='<i8'),
    'i4': np.array([-2147483648, 2147483647, 7], dtype='<i4'),
    'i2': np.array([-32768, 32767, 1], dtype='<i2'),
    'i1': np.array([-128, 127, 0], dtype='|i1'),
    'u1': np.array([0, 200, 255], dtype='|u1'),
    'u2': np.array([0, 65535, 1000], dtype='<u2'),
    'u4': np.array([0, 4294967295, 123456789], dtype='<u4'),
    'u8': np.array([0, 18446744073709551615, 42], dtype='<u8'),
    'b1': np.array([True, False, True], dtype='|b1'),
    'i8_3d': np.arange(24, dtype='<i8').reshape(2, 3, 4),
    'scalar': np.array(2.5, dtype='<f4'),
    'empty': np.zeros((0, 3), dtype='<f4'),
}
np.savez(os.path.join(here, 'dtypes.npz'), **arrays)
np.savez_compressed(os.path.join(here, 'dtypes_compressed.npz'), **arrays)


def save(name, array, **kw):
    with open(os.path.join(here, name), 'wb') as f:
        np.lib.format.write_array(f, array, **kw)


values = np.arange(6, dtype='<f4').reshape(2, 3)
save('version2.npy', values, version=(2, 0))
save('version3.npy', values, version=(3, 0))
save('fortran.npy', np.asfortranarray(values))
save('bigendian.npy', values.astype('>f4'))
save('object.npy', np.array([1, 'a'], dtype=object), allow_pickle=True)
save('structured.npy', np.zeros(2, dtype=[('a', '<f4'), ('b', '<i8')]))
save('strings.npy', np.array(['ab', 'c']))
