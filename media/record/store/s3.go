package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Options configure an S3-compatible object store.
type S3Options struct {
	Endpoint  string // host:port
	Bucket    string
	Region    string
	Secure    bool // HTTPS
	AccessKey string
	SecretKey string
	// PartSize is the multipart part size (at least 5 MiB, S3's minimum; 0: 16 MiB).
	// Files up to it are uploaded in one request.
	PartSize int64
	// OnPart is called after each part reaches the store (tests).
	OnPart func(key string, part int)
}

// S3 is Objects on an S3-compatible store (github.com/minio/minio-go).
type S3 struct {
	core   minio.Core
	bucket string
	part   int64
	onPart func(string, int)
}

// MinPartSize is S3's smallest part but the last.
const MinPartSize = 5 << 20

// NewS3 returns a client of the store. It does not connect: a store that is
// down shows at the first upload, which then waits and retries.
func NewS3(o S3Options) (*S3, error) {
	if o.PartSize == 0 {
		o.PartSize = 16 << 20
	}
	if o.PartSize < MinPartSize {
		return nil, fmt.Errorf("store: part size %d below S3's minimum %d", o.PartSize, MinPartSize)
	}
	c, err := minio.NewCore(o.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure: o.Secure, Region: o.Region,
		// The uploader retries with its own backoff; a request fails fast.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, err
	}
	return &S3{core: *c, bucket: o.Bucket, part: o.PartSize, onPart: o.OnPart}, nil
}

// EnsureBucket creates the bucket when it does not exist.
func (s *S3) EnsureBucket(ctx context.Context) error {
	ok, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil || ok {
		return err
	}
	return s.core.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{})
}

// uploadState is what an unfinished multipart upload leaves beside its file.
type uploadState struct {
	Key      string `json:"key"`
	UploadID string `json:"upload_id"`
	Size     int64  `json:"size"`
}

// Put uploads the file at path as key: in one request up to the part size,
// else as a multipart upload whose id is kept beside the file (path +
// ".upload"), so that after an outage or a restart it goes on from the
// parts the store already holds (each checked against the file's bytes by
// its MD5). It then reads the object back and compares its SHA-256 with
// sha256hex; a mismatch deletes the object (ErrChecksum).
func (s *S3) Put(ctx context.Context, key, path, sha256hex string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size <= s.part {
		_, err = s.core.PutObject(ctx, s.bucket, key, io.NewSectionReader(f, 0, size), size, "", "", minio.PutObjectOptions{})
	} else {
		err = s.multipart(ctx, key, path, f, size)
	}
	if err != nil {
		return err
	}
	return s.verify(ctx, key, size, sha256hex)
}

func (s *S3) multipart(ctx context.Context, key, path string, f *os.File, size int64) error {
	statePath := path + ".upload"
	var state uploadState
	have := map[int]minio.ObjectPart{}
	if b, err := os.ReadFile(statePath); err == nil && json.Unmarshal(b, &state) == nil && state.Key == key && state.Size == size {
		for marker := 0; ; {
			res, err := s.core.ListObjectParts(ctx, s.bucket, key, state.UploadID, marker, 1000)
			if err != nil {
				var e minio.ErrorResponse
				if errors.As(err, &e) && e.Code == "NoSuchUpload" {
					state.UploadID = "" // gone (aborted, expired): start again
					break
				}
				return err
			}
			for _, p := range res.ObjectParts {
				have[p.PartNumber] = p
			}
			if !res.IsTruncated {
				break
			}
			marker = res.NextPartNumberMarker
		}
	} else {
		state = uploadState{}
	}
	if state.UploadID == "" {
		id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{})
		if err != nil {
			return err
		}
		state = uploadState{Key: key, UploadID: id, Size: size}
		b, _ := json.Marshal(state)
		if err := os.WriteFile(statePath, b, 0o600); err != nil {
			return err
		}
		have = map[int]minio.ObjectPart{}
	}
	var done []minio.CompletePart
	buf := make([]byte, s.part)
	for n, off := 1, int64(0); off < size; n, off = n+1, off+s.part {
		k := min(s.part, size-off)
		b := buf[:k]
		if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
			return err
		}
		sum := md5.Sum(b)
		etag := hex.EncodeToString(sum[:])
		if p, ok := have[n]; ok && p.Size == k && strings.Trim(p.ETag, `"`) == etag {
			done = append(done, minio.CompletePart{PartNumber: n, ETag: p.ETag})
			continue
		}
		p, err := s.core.PutObjectPart(ctx, s.bucket, key, state.UploadID, n, bytes.NewReader(b), k, minio.PutObjectPartOptions{})
		if err != nil {
			return err
		}
		done = append(done, minio.CompletePart{PartNumber: n, ETag: p.ETag})
		if s.onPart != nil {
			s.onPart(key, n)
		}
	}
	sort.Slice(done, func(i, j int) bool { return done[i].PartNumber < done[j].PartNumber })
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, state.UploadID, done, minio.PutObjectOptions{}); err != nil {
		return err
	}
	return os.Remove(statePath)
}

// verify reads the object back whole and checks its size and SHA-256.
func (s *S3) verify(ctx context.Context, key string, size int64, sha256hex string) error {
	rc, info, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || info.Size != size || got != sha256hex {
		_ = s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
		return fmt.Errorf("%w: %s reads back %d bytes, sha256 %s; the file has %d, %s", ErrChecksum, key, n, got, size, sha256hex)
	}
	return nil
}

// Open opens an object for reading at offsets.
func (s *S3) Open(ctx context.Context, key string) (ReadAtCloser, int64, error) {
	o, err := s.core.Client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, err
	}
	st, err := o.Stat()
	if err != nil {
		o.Close()
		return nil, 0, err
	}
	return o, st.Size, nil
}

// Delete removes the object and aborts any unfinished upload of it.
func (s *S3) Delete(ctx context.Context, key string) error {
	for up := range s.core.Client.ListIncompleteUploads(ctx, s.bucket, key, false) {
		if up.Err != nil {
			return up.Err
		}
		if up.Key == key {
			if err := s.core.AbortMultipartUpload(ctx, s.bucket, key, up.UploadID); err != nil {
				return err
			}
		}
	}
	err := s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	var e minio.ErrorResponse
	if errors.As(err, &e) && e.Code == "NoSuchKey" {
		return nil
	}
	return err
}
