package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"strconv"
	"sync"
)

// The init's configuration crosses its pipe in a positional binary form:
// each field in declaration order, lengths and integers as varints, no
// names. Both ends are the same binary (the init is a sealed copy of the
// runtime), so they agree on every type's layout.
//
// Not JSON: encoding/json builds its per-type decoders on first use, and in
// the init every use is the first. Decoding the default description took
// 2.4 ms there, against 0.15 ms once warm (one run on the build machine);
// walking the values with reflect needs no such tables.

// wireFingerprint identifies the layout of initConfig: a hash of every type
// it holds, field by field, in order. A lean init built apart from the
// runtime (stepbox-init) must have the same before it reads a positional
// configuration; a copy of the running binary has it by construction.
var wireFingerprint = sync.OnceValue(func() string {
	return typeFingerprint(reflect.TypeFor[initConfig]())
})

// typeFingerprint hashes t and every type it holds, field names and kinds
// in order.
func typeFingerprint(t reflect.Type) string {
	h := fnv.New64a()
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		// Not fmt: the init computes this on its way to the payload.
		h.Write([]byte(t.String()))
		h.Write([]byte{byte(t.Kind()), ';'})
		if seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Array:
			h.Write(strconv.AppendInt(nil, int64(t.Len()), 10))
			walk(t.Elem())
		case reflect.Pointer, reflect.Slice:
			walk(t.Elem())
		case reflect.Map:
			walk(t.Key())
			walk(t.Elem())
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				h.Write([]byte(t.Field(i).Name))
				h.Write([]byte{':'})
				walk(t.Field(i).Type)
			}
		}
	}
	walk(t)
	return strconv.FormatUint(h.Sum64(), 16)
}

// marshalWire encodes v (a pointer to a struct).
func marshalWire(v any) ([]byte, error) {
	var w wireWriter
	if err := w.value(reflect.ValueOf(v).Elem()); err != nil {
		return nil, err
	}
	return w.b, nil
}

// unmarshalWire decodes b into v (a pointer to a struct of the same type
// that marshalWire encoded). Trailing or missing bytes are an error.
func unmarshalWire(b []byte, v any) error {
	r := wireReader{b: b}
	if err := r.value(reflect.ValueOf(v).Elem()); err != nil {
		return err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("configuration: %d bytes left over", len(r.b))
	}
	return nil
}

type wireWriter struct{ b []byte }

func (w *wireWriter) uvarint(n uint64) { w.b = binary.AppendUvarint(w.b, n) }

// present writes 0 for a nil pointer, slice, map or interface, and otherwise
// 1 plus n, so that an empty slice stays distinct from a nil one (the
// description's "omitted" and "empty" mean different things).
func (w *wireWriter) present(isNil bool, n int) bool {
	if isNil {
		w.uvarint(0)
		return false
	}
	w.uvarint(uint64(n) + 1)
	return true
}

func (w *wireWriter) value(v reflect.Value) error {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			w.b = append(w.b, 1)
		} else {
			w.b = append(w.b, 0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.b = binary.AppendVarint(w.b, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		w.uvarint(v.Uint())
	case reflect.Float32, reflect.Float64:
		w.uvarint(math.Float64bits(v.Float()))
	case reflect.String:
		w.uvarint(uint64(v.Len()))
		w.b = append(w.b, v.String()...)
	case reflect.Pointer:
		if w.present(v.IsNil(), 0) {
			return w.value(v.Elem())
		}
	case reflect.Slice:
		if w.present(v.IsNil(), v.Len()) {
			for i := 0; i < v.Len(); i++ {
				if err := w.value(v.Index(i)); err != nil {
					return err
				}
			}
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := w.value(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if w.present(v.IsNil(), v.Len()) {
			it := v.MapRange()
			for it.Next() {
				if err := w.value(it.Key()); err != nil {
					return err
				}
				if err := w.value(it.Value()); err != nil {
					return err
				}
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if !t.Field(i).IsExported() {
				return fmt.Errorf("configuration: %s.%s is unexported", t, t.Field(i).Name)
			}
			if err := w.value(v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Interface:
		// Only the Windows section has one (CredentialSpec); a Linux
		// container never sets it.
		if !v.IsNil() {
			return fmt.Errorf("configuration: cannot send a %s", v.Type())
		}
		w.uvarint(0)
	default:
		return fmt.Errorf("configuration: cannot send a %s", v.Type())
	}
	return nil
}

type wireReader struct{ b []byte }

var errWireShort = errors.New("configuration: truncated")

func (r *wireReader) uvarint() (uint64, error) {
	n, k := binary.Uvarint(r.b)
	if k <= 0 {
		return 0, errWireShort
	}
	r.b = r.b[k:]
	return n, nil
}

// length reads a count and checks it against what is left, each element
// taking at least a byte: a corrupt count fails instead of allocating.
func (r *wireReader) length() (int, error) {
	n, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(r.b)) {
		return 0, errWireShort
	}
	return int(n), nil
}

// present reads what wireWriter.present wrote: whether the value is there,
// and its length.
func (r *wireReader) present() (bool, int, error) {
	n, err := r.uvarint()
	if err != nil || n == 0 {
		return false, 0, err
	}
	if n-1 > uint64(len(r.b)) {
		return false, 0, errWireShort
	}
	return true, int(n - 1), nil
}

func (r *wireReader) value(v reflect.Value) error {
	switch v.Kind() {
	case reflect.Bool:
		if len(r.b) == 0 {
			return errWireShort
		}
		v.SetBool(r.b[0] != 0)
		r.b = r.b[1:]
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, k := binary.Varint(r.b)
		if k <= 0 {
			return errWireShort
		}
		r.b = r.b[k:]
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := r.uvarint()
		if err != nil {
			return err
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := r.uvarint()
		if err != nil {
			return err
		}
		v.SetFloat(math.Float64frombits(n))
	case reflect.String:
		n, err := r.length()
		if err != nil {
			return err
		}
		v.SetString(string(r.b[:n]))
		r.b = r.b[n:]
	case reflect.Pointer:
		ok, _, err := r.present()
		if !ok || err != nil {
			return err
		}
		p := reflect.New(v.Type().Elem())
		if err := r.value(p.Elem()); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Slice:
		ok, n, err := r.present()
		if !ok || err != nil {
			return err
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			if err := r.value(s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := r.value(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		ok, n, err := r.present()
		if !ok || err != nil {
			return err
		}
		t := v.Type()
		m := reflect.MakeMapWithSize(t, n)
		for i := 0; i < n; i++ {
			k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
			if err := r.value(k); err != nil {
				return err
			}
			if err := r.value(e); err != nil {
				return err
			}
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if err := r.value(v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Interface:
		if ok, _, err := r.present(); ok || err != nil {
			return errors.Join(err, fmt.Errorf("configuration: cannot receive a %s", v.Type()))
		}
	default:
		return fmt.Errorf("configuration: cannot receive a %s", v.Type())
	}
	return nil
}
