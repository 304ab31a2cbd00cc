import { runService } from '@msa/service-kit';
import { service } from './service';

void runService(service);
