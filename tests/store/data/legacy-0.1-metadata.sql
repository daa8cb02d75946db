BEGIN TRANSACTION;
CREATE TABLE alarm_history (
	id INTEGER NOT NULL, 
	account_id VARCHAR(12) NOT NULL, 
	region VARCHAR(32) NOT NULL, 
	alarm_name VARCHAR(255) NOT NULL, 
	alarm_type VARCHAR(32) NOT NULL, 
	ts FLOAT NOT NULL, 
	item_type VARCHAR(32) NOT NULL, 
	summary TEXT NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE async_invocations (
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(12) NOT NULL, 
	region VARCHAR(32) NOT NULL, 
	endpoint VARCHAR(63) NOT NULL, 
	inference_id VARCHAR(64) NOT NULL, 
	input_location VARCHAR(2048) NOT NULL, 
	output_location VARCHAR(2048) NOT NULL, 
	failure_location VARCHAR(2048) NOT NULL, 
	content_type VARCHAR(1024), 
	accept VARCHAR(1024), 
	custom_attributes VARCHAR(1024), 
	status VARCHAR(16) NOT NULL, 
	created_at FLOAT NOT NULL, 
	expires_at FLOAT NOT NULL, 
	timeout_s FLOAT NOT NULL, 
	attempts INTEGER NOT NULL, 
	last_error TEXT, 
	PRIMARY KEY (id)
);
CREATE TABLE credentials (
	access_key_id VARCHAR(128) NOT NULL, 
	secret_access_key VARCHAR(128) NOT NULL, 
	account_id VARCHAR(12) NOT NULL, 
	principal_arn VARCHAR(2048) NOT NULL, 
	session_token VARCHAR(2048), 
	expires_at FLOAT, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (access_key_id)
);
INSERT INTO "credentials" VALUES('AKIALEGACYTESTKEY000','legacy-test-secret-not-a-real-key','000000000000','arn:aws:sts::000000000000:assumed-role/SageStackExecutionRole/sagestack',NULL,NULL,1.79662685080567240711e+09);
CREATE TABLE log_events (
	id INTEGER NOT NULL, 
	stream_id INTEGER NOT NULL, 
	timestamp BIGINT NOT NULL, 
	ingestion_time BIGINT NOT NULL, 
	message TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(stream_id) REFERENCES log_streams (id) ON DELETE CASCADE
);
CREATE TABLE log_groups (
	id INTEGER NOT NULL, 
	account_id VARCHAR(12) NOT NULL, 
	region VARCHAR(32) NOT NULL, 
	name VARCHAR(512) NOT NULL, 
	created_at BIGINT NOT NULL, 
	retention_days INTEGER, 
	kms_key_id VARCHAR(256), 
	log_group_class VARCHAR(32) NOT NULL, 
	tags TEXT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_log_group UNIQUE (account_id, region, name)
);
INSERT INTO "log_groups" VALUES(1,'000000000000','us-east-1','/legacy/group',1796626851920,NULL,NULL,'STANDARD',NULL);
CREATE TABLE log_streams (
	id INTEGER NOT NULL, 
	group_id INTEGER NOT NULL, 
	name VARCHAR(512) NOT NULL, 
	created_at BIGINT NOT NULL, 
	first_event_ts BIGINT, 
	last_event_ts BIGINT, 
	last_ingestion_time BIGINT, 
	sequence BIGINT NOT NULL, 
	stored_bytes BIGINT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_log_stream UNIQUE (group_id, name), 
	FOREIGN KEY(group_id) REFERENCES log_groups (id) ON DELETE CASCADE
);
CREATE TABLE metric_alarms (
	id INTEGER NOT NULL, 
	account_id VARCHAR(12) NOT NULL, 
	region VARCHAR(32) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	state VARCHAR(32) NOT NULL, 
	updated_at FLOAT NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_metric_alarm UNIQUE (account_id, region, name)
);
CREATE TABLE metric_dimensions (
	metric_id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	value VARCHAR(1024) NOT NULL, 
	FOREIGN KEY(metric_id) REFERENCES metrics (id) ON DELETE CASCADE
);
CREATE TABLE metric_points (
	id INTEGER NOT NULL, 
	metric_id INTEGER NOT NULL, 
	ts BIGINT NOT NULL, 
	sample_count FLOAT NOT NULL, 
	sum FLOAT NOT NULL, 
	minimum FLOAT NOT NULL, 
	maximum FLOAT NOT NULL, 
	unit VARCHAR(32) NOT NULL, 
	single BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(metric_id) REFERENCES metrics (id) ON DELETE CASCADE
);
CREATE TABLE metrics (
	id INTEGER NOT NULL, 
	account_id VARCHAR(12) NOT NULL, 
	region VARCHAR(32) NOT NULL, 
	namespace VARCHAR(255) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	dims_key TEXT NOT NULL, 
	dimensions TEXT NOT NULL, 
	last_seen FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_metric UNIQUE (account_id, region, namespace, name, dims_key)
);
CREATE TABLE resources (
	id INTEGER NOT NULL, 
	account_id VARCHAR(12) NOT NULL, 
	region VARCHAR(32) NOT NULL, 
	resource_type VARCHAR(64) NOT NULL, 
	name VARCHAR(256) NOT NULL, 
	arn VARCHAR(2048) NOT NULL, 
	status VARCHAR(64), 
	created_at FLOAT NOT NULL, 
	modified_at FLOAT NOT NULL, 
	parent VARCHAR(256), 
	data TEXT NOT NULL, 
	version INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_resource_name UNIQUE (account_id, region, resource_type, name)
);
INSERT INTO "resources" VALUES(1,'000000000000','global','iam-role','legacy-team-role','arn:aws:iam::000000000000:role/team/legacy-team-role',NULL,1.79662685185731291767e+09,1.79662685185731291767e+09,NULL,'{"Path":"/team/","RoleName":"legacy-team-role","RoleId":"AROA4C45474143592D544","Arn":"arn:aws:iam::000000000000:role/team/legacy-team-role","CreateDate":{"__ts__":1796626851.857229},"AssumeRolePolicyDocument":"%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%5D%7D","MaxSessionDuration":3600}',1);
INSERT INTO "resources" VALUES(2,'000000000000','global','iam-role','legacy-root-role','arn:aws:iam::000000000000:role/legacy-root-role',NULL,1.7966268518664588928e+09,1.7966268518664588928e+09,NULL,'{"Path":"/","RoleName":"legacy-root-role","RoleId":"AROA4C45474143592D524","Arn":"arn:aws:iam::000000000000:role/legacy-root-role","CreateDate":{"__ts__":1796626851.866413},"AssumeRolePolicyDocument":"%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%5D%7D","MaxSessionDuration":3600}',1);
INSERT INTO "resources" VALUES(3,'000000000000','us-east-1','model','legacy-model','arn:aws:sagemaker:us-east-1:000000000000:model/legacy-model',NULL,1.79662685187491393086e+09,1.79662685187491393086e+09,NULL,'{"ModelName":"legacy-model","PrimaryContainer":{"Image":"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3","ModelDataUrl":"s3://legacy-bucket/missing/model.tar.gz","Mode":"SingleModel"},"ExecutionRoleArn":"arn:aws:iam::000000000000:role/SageStackExecutionRole","EnableNetworkIsolation":false,"ModelArn":"arn:aws:sagemaker:us-east-1:000000000000:model/legacy-model","CreationTime":{"__ts__":1796626851.874914}}',1);
INSERT INTO "resources" VALUES(4,'000000000000','us-east-1','endpoint-config','legacy-config','arn:aws:sagemaker:us-east-1:000000000000:endpoint-config/legacy-config',NULL,1.79662685188486099239e+09,1.79662685188486099239e+09,NULL,'{"EndpointConfigName":"legacy-config","EndpointConfigArn":"arn:aws:sagemaker:us-east-1:000000000000:endpoint-config/legacy-config","ProductionVariants":[{"VariantName":"A","ModelName":"legacy-model","InitialInstanceCount":1,"InstanceType":"ml.m5.large","InitialVariantWeight":1.0},{"VariantName":"B","ModelName":"legacy-model","InitialInstanceCount":1,"InstanceType":"ml.m5.large","InitialVariantWeight":1.0}],"CreationTime":{"__ts__":1796626851.884861}}',1);
INSERT INTO "resources" VALUES(5,'000000000000','us-east-1','endpoint','legacy-endpoint','arn:aws:sagemaker:us-east-1:000000000000:endpoint/legacy-endpoint','Creating',1.79662685189448690413e+09,1.79662685189448690413e+09,NULL,'{"EndpointName":"legacy-endpoint","EndpointArn":"arn:aws:sagemaker:us-east-1:000000000000:endpoint/legacy-endpoint","EndpointConfigName":"legacy-config","CreationTime":{"__ts__":1796626851.894487},"LastModifiedTime":{"__ts__":1796626851.894487},"_plan":{"EndpointConfigName":"legacy-config","Variants":[{"VariantName":"A","ModelName":"legacy-model","Containers":[{"Image":"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3","ModelDataUrl":"s3://legacy-bucket/missing/model.tar.gz","Mode":"SingleModel"}],"Mode":"Serial","InstanceType":"ml.m5.large","InstanceCount":1,"Weight":1.0,"Serverless":null},{"VariantName":"B","ModelName":"legacy-model","Containers":[{"Image":"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3","ModelDataUrl":"s3://legacy-bucket/missing/model.tar.gz","Mode":"SingleModel"}],"Mode":"Serial","InstanceType":"ml.m5.large","InstanceCount":1,"Weight":1.0,"Serverless":null}],"DataCaptureConfig":null},"_generation":1}',1);
INSERT INTO "resources" VALUES(6,'000000000000','us-east-1','scalable-target','sagemaker|endpoint/legacy-endpoint/variant/A|sagemaker:variant:DesiredInstanceCount','arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/4e7285002b1a4a30aa5ecde0374deb271ac3','Registered',1.79662685190225696564e+09,1.79662685190225696564e+09,NULL,'{"ServiceNamespace":"sagemaker","ResourceId":"endpoint/legacy-endpoint/variant/A","ScalableDimension":"sagemaker:variant:DesiredInstanceCount","MinCapacity":1,"MaxCapacity":3,"RoleARN":"arn:aws:iam::000000000000:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint","CreationTime":{"__ts__":1796626851.902257},"SuspendedState":{"DynamicScalingInSuspended":false,"DynamicScalingOutSuspended":false,"ScheduledScalingSuspended":false},"ScalableTargetARN":"arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/4e7285002b1a4a30aa5ecde0374deb271ac3"}',1);
INSERT INTO "resources" VALUES(7,'000000000000','us-east-1','scalable-target','sagemaker|endpoint/legacy-endpoint/variant/B|sagemaker:variant:DesiredInstanceCount','arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/2febd101b7ef48c1b755d65b0232fb4fa923','Registered',1.79662685190756893152e+09,1.79662685190756893152e+09,NULL,'{"ServiceNamespace":"sagemaker","ResourceId":"endpoint/legacy-endpoint/variant/B","ScalableDimension":"sagemaker:variant:DesiredInstanceCount","MinCapacity":1,"MaxCapacity":3,"RoleARN":"arn:aws:iam::000000000000:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint","CreationTime":{"__ts__":1796626851.907569},"SuspendedState":{"DynamicScalingInSuspended":false,"DynamicScalingOutSuspended":false,"ScheduledScalingSuspended":false},"ScalableTargetARN":"arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/2febd101b7ef48c1b755d65b0232fb4fa923"}',1);
INSERT INTO "resources" VALUES(8,'000000000000','us-east-1','scaling-policy','sagemaker|endpoint/legacy-endpoint/variant/A|sagemaker:variant:DesiredInstanceCount|legacy-step','arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:e4abbe86-d4e5-4db6-a47c-32b9d1ef5e89:resource/sagemaker/endpoint/legacy-endpoint/variant/A:policyName/legacy-step','Active',1.79662685191427397724e+09,1.79662685191427397724e+09,'sagemaker|endpoint/legacy-endpoint/variant/A|sagemaker:variant:DesiredInstanceCount','{"PolicyARN":"arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:e4abbe86-d4e5-4db6-a47c-32b9d1ef5e89:resource/sagemaker/endpoint/legacy-endpoint/variant/A:policyName/legacy-step","PolicyName":"legacy-step","ServiceNamespace":"sagemaker","ResourceId":"endpoint/legacy-endpoint/variant/A","ScalableDimension":"sagemaker:variant:DesiredInstanceCount","PolicyType":"StepScaling","CreationTime":{"__ts__":1796626851.914274},"StepScalingPolicyConfiguration":{"AdjustmentType":"ChangeInCapacity","StepAdjustments":[{"MetricIntervalLowerBound":0,"ScalingAdjustment":1}]}}',1);
CREATE TABLE s3_buckets (
	name VARCHAR(63) NOT NULL, 
	account_id VARCHAR(12) NOT NULL, 
	region VARCHAR(32) NOT NULL, 
	created_at FLOAT NOT NULL, 
	tags TEXT, 
	PRIMARY KEY (name)
);
INSERT INTO "s3_buckets" VALUES('legacy-bucket','000000000000','us-east-1',1.7966268518331069946e+09,NULL);
CREATE TABLE s3_objects (
	bucket VARCHAR(63) NOT NULL, 
	"key" VARCHAR(1024) NOT NULL, 
	size BIGINT NOT NULL, 
	etag VARCHAR(64) NOT NULL, 
	content_type VARCHAR(256) NOT NULL, 
	metadata TEXT NOT NULL, 
	headers TEXT NOT NULL, 
	checksums TEXT NOT NULL, 
	sse TEXT NOT NULL, 
	tags TEXT NOT NULL, 
	parts TEXT, 
	last_modified FLOAT NOT NULL, 
	storage_path VARCHAR(512) NOT NULL, 
	PRIMARY KEY (bucket, "key"), 
	FOREIGN KEY(bucket) REFERENCES s3_buckets (name)
);
INSERT INTO "s3_objects" VALUES('legacy-bucket','data/a.csv',4,'3ecfad755fa825f7a17c5526ec44e651','binary/octet-stream','{}','{}','{"crc32":"VSFCMw==","type":"FULL_OBJECT"}','{"ServerSideEncryption":"AES256"}','{}',NULL,1.79662685184605097773e+09,'data/88/88d567b0cd4d43ab813d546e33d38b01');
CREATE TABLE s3_parts (
	upload_id VARCHAR(128) NOT NULL, 
	part_number INTEGER NOT NULL, 
	size BIGINT NOT NULL, 
	etag VARCHAR(64) NOT NULL, 
	checksums TEXT NOT NULL, 
	last_modified FLOAT NOT NULL, 
	storage_path VARCHAR(512) NOT NULL, 
	PRIMARY KEY (upload_id, part_number), 
	FOREIGN KEY(upload_id) REFERENCES s3_uploads (upload_id)
);
CREATE TABLE s3_uploads (
	upload_id VARCHAR(128) NOT NULL, 
	bucket VARCHAR(63) NOT NULL, 
	"key" VARCHAR(1024) NOT NULL, 
	account_id VARCHAR(12) NOT NULL, 
	initiated FLOAT NOT NULL, 
	content_type VARCHAR(256) NOT NULL, 
	metadata TEXT NOT NULL, 
	headers TEXT NOT NULL, 
	sse TEXT NOT NULL, 
	tags TEXT NOT NULL, 
	checksum_algorithm VARCHAR(16), 
	checksum_type VARCHAR(16), 
	PRIMARY KEY (upload_id), 
	FOREIGN KEY(bucket) REFERENCES s3_buckets (name)
);
CREATE TABLE sagestack_schema (
	version INTEGER NOT NULL
);
INSERT INTO "sagestack_schema" VALUES(1);
CREATE TABLE tags (
	arn VARCHAR(2048) NOT NULL, 
	"key" VARCHAR(128) NOT NULL, 
	value VARCHAR(256) NOT NULL, 
	CONSTRAINT uq_tag UNIQUE (arn, "key")
);
CREATE INDEX ix_resources_arn ON resources (arn);
CREATE INDEX ix_resources_type_status ON resources (resource_type, status);
CREATE INDEX ix_s3_buckets_account ON s3_buckets (account_id);
CREATE INDEX ix_alarm_history ON alarm_history (account_id, region, alarm_name, ts);
CREATE INDEX ix_async_invocations_queue ON async_invocations (account_id, region, endpoint, status, created_at);
CREATE INDEX ix_s3_uploads_bucket_key ON s3_uploads (bucket, "key", initiated);
CREATE INDEX ix_log_streams_last_event ON log_streams (group_id, last_event_ts);
CREATE INDEX ix_metric_dimensions ON metric_dimensions (name, value, metric_id);
CREATE INDEX ix_metric_points_metric_ts ON metric_points (metric_id, ts);
CREATE INDEX ix_log_events_stream_ts ON log_events (stream_id, timestamp, id);
COMMIT;
